"""`lpack check`, `inspect` and `diff` on real builds, and the JSON report schema."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lpack.cli.report import SCHEMA_PATH
from tests.conftest import MakeProject
from tests.integration._helpers import build_json, lpack
from tests.integration._oci import make_base

SCHEMA = json.loads(SCHEMA_PATH.read_text())


def _valid(data: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(data, SCHEMA)
    return data


def _json(*args: str | Path, code: int = 0) -> dict[str, Any]:
    result = lpack(*args, "--json")
    assert result.exit_code == code, result.output
    return _valid(json.loads(result.stdout))


def test_check_under_budget_passes_and_leaves_dist_alone(project: MakeProject) -> None:
    root = project("hello")
    data = _json("check", root)
    assert data["over"] is False and [a["name"] for a in data["artifacts"]] == ["hello"]
    assert not (root / "dist").exists()


def test_check_over_budget_exits_3_with_contributors_and_a_suggestion(project: MakeProject) -> None:
    root = project("over-budget")
    result = lpack("check", root)
    assert result.exit_code == 3
    assert "budget max-unzipped" in result.stderr
    assert "move lp-pure-a" in result.stderr  # the biggest dependency, named with its size
    data = _json("check", root, code=3)
    [artifact] = data["artifacts"]
    assert artifact["over"] is True and artifact["size"]["largest"][0]["name"] == "lp-pure-a"


def test_check_suggests_excluding_runtime_provided_with_the_saving(project: MakeProject) -> None:
    root = project("exclude-runtime-provided")
    config = root / "lpack.toml"
    config.write_text(config.read_text().replace("exclude-runtime-provided = true", "exclude-runtime-provided = false"))
    [artifact] = _json("check", root)["artifacts"]
    [suggestion] = [s for s in artifact["suggestions"] if "exclude-runtime-provided" in s["message"]]
    sdk = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six"}
    expected = sum(p["bytes"] for p in artifact["packages"] if p["name"] in sdk)
    assert suggestion["saves_bytes"] == expected  # urllib3 stays: lp-uses-urllib3 needs it


def _as_image(root: Path, base_dir: Path) -> Path:
    """The project's function as an image on a synthetic local base (no registry)."""
    base_dir.mkdir()
    config = root / "lpack.toml"
    config.write_text(config.read_text() + f'format = "image"\nbase = "oci:{make_base(base_dir)}:base"\n')
    return root


def test_check_an_image_function_sizes_its_own_layers(
    project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the table's rows on one line each
    root = project("exclude-runtime-provided")
    zip_data = _json("check", root)
    config = root / "lpack.toml"
    config.write_text(config.read_text().replace("exclude-runtime-provided = true", "exclude-runtime-provided = false"))
    [zipped] = _json("check", root)["artifacts"]
    _as_image(root, tmp_path / "base")
    data = _json("check", root)
    [artifact] = data["artifacts"]
    assert artifact["kind"] == "image" and data["over"] is False and zip_data["over"] is False
    # Suggestions come from the function's own layers, as they did from the zip.
    [suggestion] = [s for s in artifact["suggestions"] if "exclude-runtime-provided" in s["message"]]
    [from_zip] = [s for s in zipped["suggestions"] if "exclude-runtime-provided" in s["message"]]
    assert suggestion["saves_bytes"] == from_zip["saves_bytes"] > 0
    own = [layer for layer in artifact["image"]["layers"] if layer["origin"] != "base"]
    result = lpack("check", root)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("exclude-runtime-provided"))
    assert "own; image" in row and "of 10" in row
    assert sum(layer["bytes"] for layer in own) < artifact["zipped_bytes"]  # the base's layers are not the function's


def test_edge_viewer_profile_caps_the_zip_at_1mb(project: MakeProject, tmp_path: Path) -> None:
    root = project("no-deps")
    # 1.2 MB that deflate cannot shrink: over the viewer quota, far under the origin one.
    (root / "blob.bin").write_bytes(random.Random(7).randbytes(1_200_000))
    config = root / "lpack.toml"
    config.write_text(config.read_text() + 'edge = "viewer"\n')
    result = lpack("check", root)
    assert result.exit_code == 3 and "Lambda@Edge viewer" in result.stderr
    config.write_text(config.read_text().replace('edge = "viewer"', 'edge = "origin"'))
    assert lpack("check", root).exit_code == 0


def test_check_annotates_in_github_actions(project: MakeProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = lpack("check", project("over-budget"))
    assert result.exit_code == 3
    assert "::error title=lpack::over-budget: unzipped size (budget max-unzipped)" in result.stdout


def test_inspect_an_lpack_zip(project: MakeProject) -> None:
    zip_path = Path(build_json(project("hello"))["artifacts"][0]["path"])
    data = _json("inspect", zip_path)
    assert (data["shape"], data["architectures"], data["python_versions"]) == ("function", ["arm64"], ["3.12"])
    by_name = {p["name"]: p for p in data["packages"]}
    assert by_name["lp-native"]["version"] == "1.0" and by_name["lp-pure-b"]["version"] == "2.0"
    assert [n["machine"] for n in data["natives"]] == ["aarch64"]


def test_inspect_zips_written_by_other_tools(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "requests").mkdir(parents=True)
    (tree / "requests" / "__init__.py").write_text("x = 1\n" * 1000)
    (tree / "requests-2.31.0.dist-info").mkdir()
    (tree / "requests-2.31.0.dist-info" / "METADATA").write_text("Name: requests\nVersion: 2.31.0\n")
    (tree / "handler.py").write_text("def handler(e, c):\n    return 1\n")
    by_zip_r = tmp_path / "zip-r.zip"
    subprocess.run(["zip", "-qr", str(by_zip_r), "."], cwd=tree, check=True)
    by_python = tmp_path / "python.zip"
    with zipfile.ZipFile(by_python, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(tree.rglob("*")):
            zf.write(path, path.relative_to(tree).as_posix())
    for artifact in (by_zip_r, by_python):
        data = _json("inspect", artifact)
        assert data["packages"][0]["name"] == "requests" and data["packages"][0]["version"] == "2.31.0"
        assert data["python_versions"] == [] and data["architectures"] == []


def test_inspect_a_layer_zip(tmp_path: Path) -> None:
    layer = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("python/lib/python3.12/site-packages/six-1.16.0.dist-info/METADATA", "Name: six\nVersion: 1.16.0\n")
        zf.writestr("python/lib/python3.12/site-packages/six.py", "# six\n" * 100)
    data = _json("inspect", layer)
    assert data["shape"] == "layer" and data["packages"][0]["name"] == "six"


def test_inspect_refuses_what_is_not_a_zip(tmp_path: Path) -> None:
    bogus = tmp_path / "x.zip"
    bogus.write_text("nope")
    result = lpack("inspect", bogus)
    assert result.exit_code == 1 and "not a zip file" in result.stderr


def test_diff_of_two_real_builds_names_the_change_and_its_size(project: MakeProject, tmp_path: Path) -> None:
    root = project("exclude-runtime-provided")
    old = tmp_path / "old.json"
    assert lpack("build", root, "--report", old).exit_code == 0
    shutil.copy(root / "dist" / "exclude-runtime-provided.zip", tmp_path / "old.zip")
    (root / "requirements.in").write_text("boto3\nlp-uses-urllib3\nlp-pure-a\n")
    new = tmp_path / "new.json"
    assert lpack("build", root, "--report", new).exit_code == 0
    for pair in ((old, new), (tmp_path / "old.zip", root / "dist" / "exclude-runtime-provided.zip")):
        [entry] = _json("diff", *pair)["diffs"]
        changes = {c["name"]: c for c in entry["changes"]}
        assert changes["lp-pure-a"]["change"] == "added" and changes["lp-pure-b"]["change"] == "added"
        assert entry["changes"][0]["delta"] >= entry["changes"][-1]["delta"]  # biggest first
        assert entry["unzipped_delta"] == sum(c["delta"] for c in entry["changes"] if c["name"] != "app.py")
    text = lpack("diff", old, new).stdout
    assert "lp-pure-a 1.0 added" in text


def test_diff_reports_version_changes(tmp_path: Path) -> None:
    def report(path: Path, version: str, size: int) -> Path:
        artifact = {
            "name": "fn",
            "zipped_bytes": size // 2,
            "unzipped_bytes": size,
            "packages": [{"name": "pandas", "version": version, "kind": "python", "bytes": size, "files": 9}],
        }
        path.write_text(json.dumps({"schema_version": 1, "command": "build", "artifacts": [artifact]}))
        return path

    data = _json(
        "diff", report(tmp_path / "a.json", "2.2.0", 40_000_000), report(tmp_path / "b.json", "2.3.0", 52_400_000)
    )
    [change] = data["diffs"][0]["changes"]
    assert change["summary"] == "+12.4 MB: pandas 2.2.0 → 2.3.0"


def test_reports_of_every_command_validate(project: MakeProject, tmp_path: Path) -> None:
    root = project("hello")
    _valid(build_json(root))
    failing = _json("build", project("config-typo"), code=2)
    assert failing["error"]["exit_code"] == 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": 1, "command": "build", "artifacts": [{"name": "x"}]}, SCHEMA)
