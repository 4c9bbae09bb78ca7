from __future__ import annotations

import pytest

from lpack.redact import SHAPES, redact, redact_data


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:hunter2@pypi.example/simple", "https://user:****@pypi.example/simple"),
        ("--index-url http://TOKEN123@host/x -r req.txt", "--index-url http://****@host/x -r req.txt"),
        ("password=hunter22 and more", "password=**** and more"),
        ('{"secret_key": "abcdef"}', '{"secret_key": "****"}'),
        ("key AKIAABCDEFGHIJKLMNOP here", "key **** here"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ****"),
        ("ghp_" + "a" * 36, "****"),
    ],
)
def test_credentials_are_masked(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "https://pypi.org/simple",
        "git+https://github.com/o/r@v1.0",
        "--hash=sha256:8382fc1409031ef4c94c0778e5ce78bbe9ffb80b0301135398506508c6a3851b",
        "not packed, may hold secrets: .npmrc",
        "file:///tmp/wheels",
        "s3://bucket/prefix/layer.zip",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_reports_are_redacted_all_the_way_down() -> None:
    data = {"error": {"message": "at https://u:p4ss@h/", "list": ["x", "https://u:p4ss@h/"]}, "n": 3}
    assert redact_data(data) == {
        "error": {"message": "at https://u:****@h/", "list": ["x", "https://u:****@h/"]},
        "n": 3,
    }


def test_the_documented_example_key_is_not_a_finding() -> None:
    aws = dict(SHAPES)["an AWS access key id"]
    assert aws.search("AKIAIOSFODNN7EXAMPLE") is None
    assert aws.search("AKIAABCDEFGHIJKLMNOP") is not None
