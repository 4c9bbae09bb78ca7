"""The bad-input corpus (issue 13): each case one broken or hostile input, run through the real CLI entry.

Most cases build a good project first, then break it and build again: the previous artifact must come out of
that untouched. See tests/corpus/_harness.py for everything each case asserts.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.conftest import WHEELS
from tests.corpus._harness import MARKER, PY_PROJECT, Case, run_case, write_project

BUILD = ("build", "{project}", "--out", "{out}", "--report", "{report}")
STRICT = (*BUILD, "--strict")
ZIP = "{out}/project.zip"
GOOD_TOML = 'runtime = "python3.12"\nhandler = "app.handler"\n'
LOCKED = (
    "lp-pure-a==1.0 \\\n    --hash=sha256:8382fc1409031ef4c94c0778e5ce78bbe9ffb80b0301135398506508c6a3851b\n"
    "lp-pure-b==2.0 \\\n    --hash=sha256:11c560de718c4bf08ec24fbaed6c8deecabf4bcec559766d97d489913bd53819\n"
)
DEPS_TOML = GOOD_TOML + f'requirements = "requirements.txt"\nno-index = true\nfind-links = ["{WHEELS.as_posix()}"]\n'


def files(changes: Mapping[str, str | bytes]) -> Callable[[Path], object]:
    """A `breaks`/`setup` step writing `changes` over the project."""
    return lambda tmp: write_project(tmp / "project", changes)


def project(extra: Mapping[str, str | bytes]) -> Callable[[Path], object]:
    return lambda tmp: write_project(tmp / "project", {**PY_PROJECT, **extra})


def config(text: str | bytes) -> Callable[[Path], object]:
    return files({"lpack.toml": text})


def removed(rel: str) -> Callable[[Path], object]:
    def step(tmp: Path) -> None:
        path = tmp / "project" / rel
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()

    return step


def symlinks(links: Mapping[str, str]) -> Callable[[Path], object]:
    def step(tmp: Path) -> None:
        for name, target in links.items():
            (tmp / "project" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / "project" / name).symlink_to(target)

    return step


def chmod(rel: str, mode: int) -> Callable[[Path], object]:
    def step(tmp: Path) -> None:
        (tmp / "project" / rel).chmod(mode)

    return step


def steps(*each: Callable[[Path], object]) -> Callable[[Path], object]:
    return lambda tmp: [step(tmp) for step in each]


def bad_build(name: str, breaks: Callable[[Path], object], exit_code: int, error: str, **more: object) -> Case:
    """A good build, then `breaks`, then the same build: one error line and the artifact as it was."""
    argv = more.pop("argv", BUILD)
    return Case(name=name, good_argv=BUILD, breaks=breaks, argv=argv, exit_code=exit_code, error=error, **more)  # type: ignore[arg-type]


def secret_file(rel: str, content: str = f"token={MARKER}\n") -> Case:
    """A credential file beside the code: left out with a warning, the build succeeds, the marker stays out."""
    return Case(
        name=f"secrets/{rel}",
        setup=project({rel: content}),
        argv=BUILD,
        exit_code=0,
        warning=f"not packed (list them in `include` to pack them): {rel.split('/', maxsplit=1)[0]}",
    )


def strict_secret(name: str, content: str, what: str) -> Case:
    return bad_build(f"secrets/strict-{name}", files({"settings.py": content}), 1, what, argv=STRICT)


PEM = f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{MARKER}\n-----END RSA PRIVATE KEY-----\n"
CONFIG_CASES = [
    bad_build("config/non-utf8-lpack-toml", config(GOOD_TOML.encode() + b"# caf\xe9\n"), 2, "lpack.toml: not UTF-8"),
    bad_build("config/utf16-lpack-toml", config(GOOD_TOML.encode("utf-16")), 2, "lpack.toml: not UTF-8"),
    bad_build("config/nul-byte", config(GOOD_TOML + "x = 1\0\n"), 2, "invalid TOML"),
    bad_build("config/invalid-toml", config(GOOD_TOML + "runtime = \n"), 2, "invalid TOML"),
    bad_build("config/deeply-nested-array", config(GOOD_TOML + "x = " + "[" * 3000 + "]" * 3000 + "\n"), 2, "lpack"),
    bad_build("config/unknown-key", config(GOOD_TOML + "handlr = 'x'\n"), 2, "handlr"),
    bad_build("config/unknown-runtime", config('runtime = "python2.7"\nhandler = "app.handler"\n'), 2, "python2.7"),
    bad_build("config/runtime-not-a-string", config('runtime = 3.12\nhandler = "app.handler"\n'), 2, "runtime"),
    bad_build("config/bad-architecture", config(GOOD_TOML + 'architecture = "arm"\n'), 2, "arm"),
    bad_build("config/no-handler", config('runtime = "python3.12"\n'), 2, "handler"),
    bad_build("config/bad-handler", config('runtime = "python3.12"\nhandler = "app"\n'), 2, "handler"),
    bad_build("config/bad-format", config(GOOD_TOML + 'format = "tar"\n'), 2, "tar"),
    bad_build("config/bad-budget", config(GOOD_TOML + '[budget]\nunzipped = "lots"\n'), 2, "max-unzipped"),
    bad_build("config/unknown-layer", config(GOOD_TOML + 'layers = ["nope"]\n'), 2, "nope"),
    bad_build(
        "config/bad-function-name", config('runtime = "python3.12"\n[functions."a b"]\nhandler = "app.h"\n'), 2, "a b"
    ),
    bad_build("config/missing-source", config(GOOD_TOML + 'source = "nowhere"\n'), 2, "does not exist"),
    bad_build("config/source-is-a-file", config(GOOD_TOML + 'source = "app.py"\n'), 2, "not a directory"),
    bad_build(
        "config/both-lpack-toml-and-pyproject",
        files({"pyproject.toml": '[tool.lpack]\nruntime = "python3.12"\nhandler = "app.handler"\n'}),
        2,
        "both lpack.toml and [tool.lpack]",
    ),
    bad_build("config/no-config", removed("lpack.toml"), 2, "no lpack configuration found"),
    bad_build(
        "config/config-is-a-directory", steps(removed("lpack.toml"), files({"lpack.toml/x": "x"})), 2, "lpack.toml"
    ),
    bad_build("config/missing-requirements", config(GOOD_TOML + 'requirements = "req.txt"\n'), 2, "req.txt"),
    Case(
        name="config/non-utf8-pyproject",
        setup=files(
            {
                "app.py": PY_PROJECT["app.py"],
                "pyproject.toml": b'[tool.lpack]\nruntime = "python3.12"\nhandler = "app.handler"\n# \xff\n',
            }
        ),
        argv=BUILD,
        exit_code=2,
        error="pyproject.toml: not UTF-8 (byte 0xff on line 4)",
    ),
    Case(name="config/project-missing", argv=("build", "{tmp}/nope"), exit_code=2, error="nope"),
    bad_build("config/cache-remote-not-s3", config(GOOD_TOML + '[cache]\nremote = "http://x"\n'), 2, "[cache] remote"),
    bad_build("config/cache-unknown-key", config(GOOD_TOML + '[cache]\nremot = "s3://bkt"\n'), 2, "remot"),
    Case(
        name="config/cache-remote-env-with-userinfo",
        argv=BUILD,
        exit_code=2,
        error='LPACK_CACHE_REMOTE: "s3://****@bkt/x" has no valid bucket name',
        env={"LPACK_CACHE_REMOTE": "s3://AKIA" + MARKER + ":secret@bkt/x"},
    ),
    bad_build(
        "config/cli-cache-remote-dotdot", lambda _tmp: None, 2, "'..'", argv=(*BUILD, "--cache-remote", "s3://bkt/../x")
    ),
    bad_build("config/cli-unknown-runtime", lambda _tmp: None, 2, "python9", argv=(*BUILD, "--runtime", "python9")),
    bad_build("config/cli-bad-arch", lambda _tmp: None, 2, "sparc", argv=(*BUILD, "--arch", "sparc")),
    bad_build("config/cli-unknown-function", lambda _tmp: None, 2, "nope", argv=(*BUILD, "--function", "nope")),
    bad_build(
        "config/unreadable-lpack-toml",
        chmod("lpack.toml", 0),
        2,
        "lpack.toml: cannot read: Permission denied",
        as_nobody=True,
    ),
]

SOURCE_CASES = [
    bad_build("sources/symlink-loop", symlinks({"a": "b", "b": "a"}), 1, "a: symlink loop"),
    bad_build("sources/self-link", symlinks({"me": "me"}), 1, "me: symlink loop"),
    bad_build("sources/dir-link-to-parent", symlinks({"sub/up": ".."}), 1, "sub/up: symlink loop"),
    bad_build("sources/dangling-link", symlinks({"gone.py": "nowhere.py"}), 1, "gone.py: symlink points outside"),
    bad_build("sources/link-outside", symlinks({"passwd": "/etc/passwd"}), 1, "passwd: symlink points outside"),
    bad_build(
        "sources/non-utf8-name",
        files({b"caf\xe9.py".decode("utf-8", "surrogateescape"): "x = 1\n"}),
        1,
        "caf\\xe9.py: file name is not UTF-8",
    ),
    bad_build(
        "sources/non-utf8-dir-name",
        files({b"d\xff/m.py".decode("utf-8", "surrogateescape"): "x = 1\n"}),
        1,
        "not UTF-8",
    ),
    bad_build(
        "sources/unreadable-file",
        steps(files({"secret.py": "x = 1\n"}), chmod("secret.py", 0)),
        1,
        "Permission denied",
        as_nobody=True,
    ),
    bad_build(
        "sources/unreadable-dir",
        steps(files({"pkg/m.py": "x = 1\n"}), chmod("pkg", 0)),
        1,
        "Permission denied",
        as_nobody=True,
    ),
    bad_build(
        "sources/prebuilt-source-is-a-zip",
        steps(
            config('runtime = "provided.al2023"\nkind = "prebuilt"\nsource = "build.zip"\n'),
            lambda tmp: shutil.copy(tmp / "out" / "project.zip", tmp / "project" / "build.zip"),
        ),
        2,
        "source build.zip is a zip file, not a directory",
    ),
    Case(
        name="sources/py-name-too-long-for-its-pyc",
        setup=project({"a" * 245 + ".py": "x = 1\n"}),
        argv=BUILD,
        exit_code=0,
        warning="1 .py not compiled for python3.12",
    ),
    Case(
        name="sources/syntax-error",
        setup=project({"bad.py": "def (:\n"}),
        argv=BUILD,
        exit_code=1,
        error="bad.py, line 1",
    ),
]

SECRET_CASES = [
    secret_file(".npmrc", f"//registry.npmjs.org/:_authToken=npm_{MARKER}\n"),
    secret_file(".pypirc", f"[pypi]\nusername = __token__\npassword = pypi-{MARKER}\n"),
    secret_file(".netrc", f"machine example.com login me password {MARKER}\n"),
    secret_file(".git-credentials", f"https://me:{MARKER}@github.com\n"),
    secret_file(".docker/config.json", f'{{"auths": {{"r.example": {{"auth": "{MARKER}"}}}}}}\n'),
    secret_file("server.key", PEM),
    secret_file("client.p12", MARKER),
    secret_file("store.pfx", MARKER),
    secret_file("app.jks", MARKER),
    secret_file("release.keystore", MARKER),
    secret_file("terraform.tfstate", f'{{"outputs": {{"db_password": "{MARKER}"}}}}\n'),
    secret_file("terraform.tfstate.backup", f'{{"password": "{MARKER}"}}\n'),
    secret_file("credentials.json", f'{{"type": "service_account", "private_key": "{MARKER}"}}\n'),
    secret_file("id_ecdsa", PEM),
    secret_file(".htpasswd", f"me:{MARKER}\n"),
    secret_file(".ssh/config", f"IdentityFile {MARKER}\n"),
    strict_secret("private-key", f'KEY = """{PEM}"""\n', "settings.py line 1: a private key"),
    strict_secret("aws-key", 'ID = "AKIA' + "LPACKMARK7F3A9CX" + '"\n', "settings.py line 1: an AWS access key id"),
    strict_secret("github-token", f'T = "ghp_{"x" * 36}{MARKER}"\n', "a GitHub token"),
    strict_secret("service-account", f'SA = {{"type": "service_account", "k": "{MARKER}"}}\n', "service-account key"),
    Case(
        name="secrets/include-forces-one-back-in",
        setup=project(
            {
                ".npmrc": "registry=https://registry.npmjs.org/\n",
                "lpack.toml": GOOD_TOML + 'include = ["*.py", ".npmrc"]\n',
            }
        ),
        argv=BUILD,
        exit_code=0,
        warning="packed because `include` lists them, though they may hold secrets: .npmrc",
    ),
]


def _zip_gone(tmp: Path) -> None:
    (tmp / "out").chmod(0o555)


OUTPUT_CASES = [
    bad_build(
        "outputs/out-under-a-file",
        lambda _t: None,
        2,
        "is not a directory",
        argv=("build", "{project}", "--out", "{project}/app.py/x"),
    ),
    bad_build(
        "outputs/out-is-a-file", lambda _t: None, 2, "app.py", argv=("build", "{project}", "--out", "{project}/app.py")
    ),
    bad_build(
        "outputs/report-under-a-file",
        lambda _t: None,
        2,
        "is not a directory",
        argv=(*BUILD[:4], "--report", "{project}/app.py/r.json"),
    ),
    bad_build(
        "outputs/report-is-a-directory", lambda _t: None, 2, "report", argv=(*BUILD[:4], "--report", "{project}")
    ),
    bad_build(
        "outputs/out-not-writable",
        _zip_gone,
        2,
        "permission denied",
        argv=("build", "{project}", "--out", "{out}/sub"),
        as_nobody=True,
    ),
    # Found in review: the previous artifact was packed into the next one, growing the zip on every build.
    bad_build(
        "outputs/out-is-the-source-directory",
        lambda _t: None,
        2,
        "is the function's source directory",
        argv=("build", "{project}", "--out", "{project}"),
    ),
]

DEPENDENCY_CASES = [
    Case(
        name="deps/unknown-package-offline",
        setup=project({"lpack.toml": DEPS_TOML, "requirements.txt": "no-such-package-xyz==1.0\n"}),
        argv=BUILD,
        exit_code=1,
        error="no-such-package-xyz",
    ),
    Case(
        name="deps/garbage-line",
        setup=project({"lpack.toml": DEPS_TOML, "requirements.txt": "@@@ not a requirement\n"}),
        argv=BUILD,
        exit_code=1,
        error="requirements.txt",
    ),
    Case(
        name="deps/hash-mismatch-names-the-package",
        setup=project({"lpack.toml": DEPS_TOML, "requirements.txt": LOCKED.replace("8382fc14", "00000000")}),
        argv=BUILD,
        exit_code=1,
        error="lp-pure-a",
    ),
    Case(
        name="deps/unhashed-line-in-hashed-file",
        setup=project({"lpack.toml": DEPS_TOML, "requirements.txt": LOCKED + "six==1.16.0\n"}),
        argv=BUILD,
        exit_code=1,
        error="six",
    ),
    Case(
        name="deps/non-utf8-requirements",
        setup=project({"lpack.toml": DEPS_TOML, "requirements.txt": b"lp-pure-a==1.0 # caf\xe9\n"}),
        argv=BUILD,
        exit_code=2,
        error="requirements.txt: not UTF-8 (line 1)",
    ),
    Case(
        name="deps/missing-find-links",
        setup=project(
            {
                "lpack.toml": GOOD_TOML
                + 'requirements = "requirements.txt"\nno-index = true\nfind-links = ["nowhere"]\n',
                "requirements.txt": "lp-pure-a==1.0\n",
            }
        ),
        argv=BUILD,
        exit_code=2,
        error="find-links nowhere: no such directory",
    ),
    Case(
        name="deps/index-password-not-echoed-with-v",
        setup=project(
            {"lpack.toml": GOOD_TOML + 'requirements = "requirements.txt"\n', "requirements.txt": "lp-pure-a==1.0\n"}
        ),
        argv=(*BUILD, "-v", "--index-url", f"http://user:{MARKER}@127.0.0.1:9/simple"),
        env={"UV_HTTP_RETRIES": "0"},
        exit_code=1,
        error="resolving requirements.txt",
    ),
]

EVENT = ("verify", ZIP, "--handler", "app.handler", "--event")
READER_CASES = [
    bad_build(
        "verify/invalid-event-json",
        files({"../ev.json": '{"a": 1,\n oops}'}),
        2,
        "invalid JSON in",
        argv=(*EVENT, "{tmp}/ev.json"),
    ),
    bad_build(
        "verify/event-not-utf8", files({"../ev.json": b'{"a": "\xff"}'}), 2, "not UTF-8", argv=(*EVENT, "{tmp}/ev.json")
    ),
    bad_build(
        "verify/event-deeply-nested",
        files({"../ev.json": "[" * 100000 + "]" * 100000}),
        2,
        "nested too deeply",
        argv=(*EVENT, "{tmp}/ev.json"),
    ),
    bad_build("verify/event-missing", lambda _t: None, 2, "ev.json", argv=(*EVENT, "{tmp}/ev.json")),
    bad_build(
        "verify/report-not-json",
        files({"../r.json": "nope"}),
        2,
        "not an lpack build report",
        argv=("verify", ZIP, "--report", "{tmp}/r.json"),
    ),
    bad_build(
        "verify/unknown-runtime",
        lambda _t: None,
        2,
        "python9",
        argv=("verify", ZIP, "--handler", "app.handler", "--runtime", "python9"),
    ),
    bad_build(
        "diff/deeply-nested-json",
        files({"../d.json": "[" * 100000 + "]" * 100000}),
        1,
        "nested too deeply",
        argv=("diff", "{tmp}/d.json", "{tmp}/d.json"),
    ),
    bad_build(
        "diff/not-json",
        files({"../d.json": "{"}),
        1,
        "not an lpack report",
        argv=("diff", "{tmp}/d.json", "{tmp}/d.json"),
    ),
    bad_build(
        "diff/non-utf8-json",
        files({"../d.json": b"\xff\xfe"}),
        1,
        "not an lpack report",
        argv=("diff", "{tmp}/d.json", "{tmp}/d.json"),
    ),
    bad_build(
        "diff/artifacts-not-a-list",
        files({"../d.json": '{"artifacts": 3}'}),
        1,
        "not an lpack report",
        argv=("diff", "{tmp}/d.json", "{tmp}/d.json"),
    ),
    bad_build("diff/missing-file", lambda _t: None, 1, "no such file", argv=("diff", "{tmp}/nope.zip", ZIP)),
    bad_build("inspect/not-a-zip", files({"../x.zip": "not a zip"}), 1, "x.zip", argv=("inspect", "{tmp}/x.zip")),
]

PUBLISH_CASES = [
    bad_build("publish/unknown-layer", lambda _t: None, 2, "nope", argv=("publish", "layer", "nope", "{project}")),
    Case(
        name="publish/endpoint-password-not-echoed",
        setup=project(
            {"lpack.toml": '[layers.base]\nruntime = "python3.12"\nsource = "src"\n', "src/python/m.py": "x = 1\n"}
        ),
        argv=(
            "publish",
            "layer",
            "base",
            "{project}",
            "--region",
            "us-east-1",
            "--report",
            "{report}",
            "--endpoint-url",
            f"http://AKIAEXAMPLE:{MARKER}@127.0.0.1:9",
        ),
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_MAX_ATTEMPTS": "1"},
        exit_code=1,
        error="publishing layer base",
    ),
]

ENV_CASES = [
    Case(name="env/pyenv-root-is-a-file", argv=BUILD, env={"PYENV_ROOT": "/etc/hostname"}, exit_code=0),
    Case(
        name="env/pyenv-root-unreadable",
        setup=steps(
            project({}),
            lambda tmp: (tmp / "pyenv" / "versions").mkdir(parents=True),
            lambda tmp: (tmp / "pyenv").chmod(0),
        ),
        argv=BUILD,
        env={"PYENV_ROOT": "{tmp}/pyenv"},
        exit_code=0,
        as_nobody=True,
    ),
    Case(
        name="env/pyenv-versions-unreadable",
        setup=steps(
            project({}),
            lambda tmp: (tmp / "pyenv" / "versions" / "3.12.1" / "bin").mkdir(parents=True),
            lambda tmp: (tmp / "pyenv" / "versions").chmod(0),
        ),
        argv=BUILD,
        env={"PYENV_ROOT": "{tmp}/pyenv"},
        exit_code=0,
        as_nobody=True,
    ),
    Case(
        name="env/cache-dir-is-a-file",
        argv=BUILD,
        env={"LPACK_CACHE_DIR": "/etc/hostname"},
        exit_code=2,
        error="cache directory (LPACK_CACHE_DIR) /etc/hostname: not a directory",
    ),
]

LAYER_TOML = '[layers.base]\nruntime = "python3.12"\nsource = "src"\n'
MORE_CASES = [
    bad_build("config/empty-lpack-toml", config(""), 2, "lpack.toml: runtime: missing"),
    bad_build("config/utf8-bom", config(b"\xef\xbb\xbf" + GOOD_TOML.encode()), 2, "invalid TOML"),
    bad_build("config/functions-not-a-table", config('runtime = "python3.12"\nfunctions = 3\n'), 2, "functions"),
    bad_build("config/include-not-a-list", config(GOOD_TOML + "include = 3\n"), 2, "include"),
    bad_build("config/exclude-not-a-list", config(GOOD_TOML + "exclude = {a = 1}\n"), 2, "exclude"),
    bad_build("config/out-not-a-string", config(GOOD_TOML + "out = 3\n"), 2, "out", argv=("build", "{project}")),
    bad_build("config/infinite-budget", config(GOOD_TOML + "[budget]\nmax-unzipped = inf\n"), 2, "max-unzipped"),
    bad_build(
        "config/requirements-is-a-directory",
        steps(config(GOOD_TOML + 'requirements = "reqs"\n'), files({"reqs/x": ""})),
        2,
        "reqs",
    ),
    bad_build(
        "config/tool-lpack-not-a-table",
        steps(removed("lpack.toml"), files({"pyproject.toml": "[tool]\nlpack = 3\n"})),
        2,
        "lpack",
    ),
    bad_build("sources/non-utf8-lpackignore", files({".lpackignore": b"caf\xe9/\n"}), 2, ".lpackignore: not UTF-8"),
    Case(
        name="sources/fifo-is-skipped",
        setup=steps(project({}), lambda tmp: os.mkfifo(tmp / "project" / "pipe")),
        argv=BUILD,
        exit_code=0,
    ),
    bad_build("check/bad-config", config("runtime = \n"), 2, "invalid TOML", argv=("check", "{project}")),
    bad_build(
        "check/strict-secret",
        files({"k.py": f'K = """{PEM}"""\n'}),
        1,
        "k.py line 1: a private key",
        argv=("check", "{project}", "--strict"),
    ),
    bad_build(
        "verify/artifact-missing",
        lambda _t: None,
        2,
        "nope.zip",
        argv=("verify", "{tmp}/nope.zip", "--handler", "app.handler"),
    ),
    bad_build("verify/handler-missing", lambda _t: None, 1, "app.nope", argv=("verify", ZIP, "--handler", "app.nope")),
    bad_build(
        "verify/not-a-zip",
        files({"../x.zip": "not a zip"}),
        1,
        "x.zip",
        argv=("verify", "{tmp}/x.zip", "--handler", "app.handler"),
    ),
    Case(
        name="publish/artifact-not-a-zip",
        setup=steps(project({"lpack.toml": LAYER_TOML, "src/python/m.py": "x = 1\n"}), files({"../x.zip": "no"})),
        argv=("publish", "layer", "base", "{project}", "--artifact", "{tmp}/x.zip", "--region", "us-east-1"),
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
        exit_code=1,
        error="x.zip",
    ),
    Case(
        name="env/cache-dir-not-writable",
        setup=steps(project({}), lambda tmp: (tmp / "ro").mkdir(mode=0o555)),
        argv=BUILD,
        env={"LPACK_CACHE_DIR": "{tmp}/ro/cache"},
        exit_code=2,
        error="permission denied",
        as_nobody=True,
    ),
]

CASES = [
    *CONFIG_CASES,
    *MORE_CASES,
    *SOURCE_CASES,
    *SECRET_CASES,
    *OUTPUT_CASES,
    *DEPENDENCY_CASES,
    *READER_CASES,
    *PUBLISH_CASES,
    *ENV_CASES,
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_case(case, tmp_path, monkeypatch)


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES), "case names are unique"
    assert os.sep == "/"


def test_an_index_line_in_requirements_in_is_used_for_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The .in alone says where packages come from; an install that forgot it would ask this dead index instead.
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    toml = GOOD_TOML + 'requirements = "requirements.in"\n'
    wheels = os.path.relpath(WHEELS, tmp_path / "project")
    setup = project({"lpack.toml": toml, "requirements.in": f"--no-index\n--find-links {wheels}\nlp-pure-a==1.0\n"})
    case = Case(name="deps/index-line-in-requirements-in", setup=setup, argv=BUILD, exit_code=0)
    run_case(case, tmp_path, monkeypatch)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["artifacts"][0]["files"] > 3  # lp_pure_a and lp_pure_b installed, not only app.py
