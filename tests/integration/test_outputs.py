"""Build output is never packed (#12): reports, output directories (this build's and earlier ones', found by
their tag) and other tools' build directories stay out of the artifact, each named once in a note."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import MakeProject
from tests.integration._helpers import lpack, names


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _built(root: Path, *extra: str | Path) -> tuple[str, list[str], list[str]]:
    result = lpack("build", root, "--json", *extra)
    assert result.exit_code == 0, result.output
    [artifact] = json.loads(result.stdout)["artifacts"]
    path = Path(artifact["path"])
    return _sha(path), names(path), artifact["notes"]


def test_reports_written_into_the_project_are_never_packed(project: MakeProject) -> None:
    root = project("hello")
    # What the CI workflow `lpack init` writes does: check, then build, both with a report in the project.
    first, _, _ = _built(root, "--report", root / "lpack-build.json")
    assert lpack("check", root, "--report", root / "lpack-check.json").exit_code == 0
    (root / "out.json").write_text(lpack("build", root, "--json").stdout)  # `lpack build --json > out.json`
    again, files, notes = _built(root, "--report", root / "lpack-build.json")
    assert again == first
    assert not [f for f in files if f.endswith(".json")]
    [note] = [n for n in notes if n.startswith("not packed (build output)")]
    for report in ("lpack-build.json", "lpack-check.json", "out.json"):
        assert note.count(f"{report} (an lpack report)") == 1


def test_output_directories_used_before_are_never_packed(project: MakeProject) -> None:
    root = project("hello")
    shas = {_built(root, "--out", root / out)[0] for out in ("a", "b", "a", "b")}
    assert len(shas) == 1
    _, files, notes = _built(root, "--out", root / "b")
    assert not [f for f in files if f.split("/")[0] in ("a", "b", "dist")]
    assert any("a/ (an lpack output directory)" in n for n in notes)


def test_other_tools_build_directories_are_left_out_and_named(project: MakeProject) -> None:
    root = project("hello")
    before, _, _ = _built(root)
    for rel in (".aws-sam/build/app.py", ".serverless/state.json", "cdk.out/tree.json", "node_modules/.cache/x"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}\n")
    after, files, notes = _built(root)
    assert after == before
    [note] = [n for n in notes if n.startswith("not packed (build output)")]
    for name in (".aws-sam/", ".serverless/", "cdk.out/"):
        assert note.count(f"{name} (another tool's build output or cache)") == 1
    assert not [f for f in files if f.startswith((".aws-sam", ".serverless", "cdk.out"))]
