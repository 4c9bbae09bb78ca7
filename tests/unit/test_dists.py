from __future__ import annotations

from pathlib import Path

from lpack.staging.dists import distributions, removable_paths
from lpack.staging.tree import StagingTree, scan

PROVIDED = {"boto3", "botocore", "s3transfer"}

# name -> (import package, Requires-Dist lines)
GRAPH: dict[str, tuple[str, list[str]]] = {
    "boto3": ("boto3", ["botocore>=1.34", "s3transfer<0.11,>=0.10", "jmespath<2,>=0.7.1"]),
    "botocore": ("botocore", ["jmespath<2.0.0,>=0.7.1", "python-dateutil<3.0.0,>=2.1", "urllib3!=2.2.0,<3,>=1.25.4"]),
    "s3transfer": ("s3transfer", ["botocore<2.0a.0,>=1.33.2", "botocore[crt]; extra == 'crt'"]),
    "jmespath": ("jmespath", []),
    "python-dateutil": ("dateutil", ["six>=1.5"]),
    "six": ("six", []),
    "urllib3": ("urllib3", ["brotli>=1.0.9; platform_python_implementation == 'CPython' and extra == 'brotli'"]),
    "requests": ("requests", ["urllib3<3,>=1.21.1", "idna"]),
}


def _dist_info(name: str) -> str:
    return f"{name.replace('-', '_')}-1.0.dist-info"


def _add_dist(root: Path, name: str, package: str, requires: list[str], *, record: bool = True) -> None:
    info = root / _dist_info(name)
    info.mkdir(parents=True)
    meta = [f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", *(f"Requires-Dist: {r}\n" for r in requires)]
    (info / "METADATA").write_text("".join(meta) + "\nLong description with Name: fake\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\n")
    pkg = root / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"# {name}\n")
    (pkg / "core.py").write_text("x = 1\n")
    if record:
        rows = [
            f"{package}/__init__.py,sha256=abc,10",
            f"{package}/core.py,sha256=abc,6",
            f"{_dist_info(name)}/METADATA,,",
            f"{_dist_info(name)}/WHEEL,,",
            f"{_dist_info(name)}/RECORD,,",
            f"../../bin/{package}-cli,sha256=abc,10",  # a script outside site-packages
            f"{package}/gone.py,sha256=abc,1",  # listed but already pruned
        ]
        (info / "RECORD").write_text("\n".join(rows) + "\n")


def _site(root: Path, graph: dict[str, tuple[str, list[str]]]) -> StagingTree:
    for name, (package, requires) in graph.items():
        _add_dist(root, name, package, requires)
    return scan(root, "deps")


def _removed_dists(tree: StagingTree, removed: set[str], graph: dict[str, tuple[str, list[str]]]) -> set[str]:
    """Names whose files were all removed; fails if a distribution is only partly removed."""
    gone = set()
    for name, (package, _) in graph.items():
        files = {e.path for e in tree if e.path.startswith((f"{package}/", f"{_dist_info(name)}/"))}
        hit = files & removed
        assert hit in (set(), files), f"{name} partly removed: {sorted(files - hit)} left"
        if hit:
            gone.add(name)
    return gone


def test_distributions_reads_names_versions_requires_and_files(tmp_path: Path) -> None:
    tree = _site(tmp_path, GRAPH)
    dists = distributions(tree)
    assert set(dists) == set(GRAPH)
    dateutil = dists["python-dateutil"]
    assert dateutil.version == "1.0"
    assert dateutil.dist_info == "python_dateutil-1.0.dist-info"
    assert dateutil.requires == {"six"}
    # Requirements behind markers and extras count: a superset of edges is the safe side.
    assert dists["s3transfer"].requires == {"botocore"}
    assert dists["urllib3"].requires == {"brotli"}
    assert "dateutil/core.py" in dateutil.files
    assert "python_dateutil-1.0.dist-info/WHEEL" in dateutil.files
    assert not any(f.startswith("../") for f in dateutil.files)


def test_names_are_canonicalized(tmp_path: Path) -> None:
    _add_dist(tmp_path, "Python_Dateutil", "dateutil", ["Six>=1.5"])
    dists = distributions(scan(tmp_path, "deps"))
    assert set(dists) == {"python-dateutil"}
    assert dists["python-dateutil"].requires == {"six"}


def test_dist_info_without_metadata_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "broken-1.0.dist-info").mkdir()
    (tmp_path / "broken-1.0.dist-info" / "RECORD").write_text("broken/__init__.py,,\n")
    assert distributions(scan(tmp_path, "deps")) == {}


def test_boto3_goes_with_what_only_it_needs_and_urllib3_stays_for_requests(tmp_path: Path) -> None:
    tree = _site(tmp_path, GRAPH)
    removed = removable_paths(tree, PROVIDED, set())
    assert _removed_dists(tree, removed, GRAPH) == {
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "python-dateutil",
        "six",
    }
    assert removed <= tree.paths()  # only files that are there: not ../../bin nor the pruned gone.py
    assert "botocore/core.py" in removed
    assert "botocore-1.0.dist-info/RECORD" in removed


def test_without_requests_urllib3_goes_too(tmp_path: Path) -> None:
    graph = {k: v for k, v in GRAPH.items() if k != "requests"}
    tree = _site(tmp_path, graph)
    removed = removable_paths(tree, PROVIDED, set())
    assert _removed_dists(tree, removed, graph) == set(graph)


def test_a_direct_requirement_stays_with_its_dependencies(tmp_path: Path) -> None:
    tree = _site(tmp_path, GRAPH)
    removed = removable_paths(tree, PROVIDED, {"jmespath", "Python_Dateutil"})
    assert _removed_dists(tree, removed, GRAPH) == {"boto3", "botocore", "s3transfer"}


def test_nothing_provided_in_the_tree_removes_nothing(tmp_path: Path) -> None:
    graph = {k: GRAPH[k] for k in ("requests", "urllib3")}
    tree = _site(tmp_path, graph)
    assert removable_paths(tree, PROVIDED, set()) == set()


def test_provided_names_are_canonicalized(tmp_path: Path) -> None:
    tree = _site(tmp_path, GRAPH)
    removed = removable_paths(tree, {"Boto3", "BotoCore", "S3Transfer"}, set())
    assert "boto3/__init__.py" in removed
    assert "botocore/__init__.py" in removed


def test_a_cycle_not_reachable_from_provided_stays(tmp_path: Path) -> None:
    graph = {
        **GRAPH,
        "alpha": ("alpha", ["beta"]),
        "beta": ("beta", ["alpha", "jmespath"]),
    }
    tree = _site(tmp_path, graph)
    removed = removable_paths(tree, PROVIDED, set())
    gone = _removed_dists(tree, removed, graph)
    assert "alpha" not in gone
    assert "beta" not in gone
    assert "jmespath" not in gone  # the kept cycle needs it
    assert {"boto3", "botocore", "s3transfer", "python-dateutil", "six"} <= gone


def test_a_cycle_reachable_only_from_provided_goes(tmp_path: Path) -> None:
    graph = {
        **GRAPH,
        "botocore": ("botocore", [*GRAPH["botocore"][1], "gamma"]),
        "gamma": ("gamma", ["delta"]),
        "delta": ("delta", ["gamma"]),
    }
    tree = _site(tmp_path, graph)
    gone = _removed_dists(tree, removable_paths(tree, PROVIDED, set()), graph)
    assert {"gamma", "delta"} <= gone


def test_a_cycle_reachable_from_provided_and_a_kept_root_stays(tmp_path: Path) -> None:
    graph = {
        **GRAPH,
        "botocore": ("botocore", [*GRAPH["botocore"][1], "gamma"]),
        "gamma": ("gamma", ["delta"]),
        "delta": ("delta", ["gamma"]),
        "myapp": ("myapp", ["gamma"]),
    }
    tree = _site(tmp_path, graph)
    gone = _removed_dists(tree, removable_paths(tree, PROVIDED, set()), graph)
    assert not {"gamma", "delta", "myapp"} & gone


def test_without_record_the_package_named_like_the_distribution_goes_too(tmp_path: Path) -> None:
    # The pruner drops RECORD; top_level.txt (or the distribution's own name) still says what is whose.
    _add_dist(tmp_path, "boto3", "boto3", [], record=False)
    _add_dist(tmp_path, "keepme", "keepme", [], record=False)
    tree = scan(tmp_path, "deps")
    assert removable_paths(tree, {"boto3"}, set()) == {
        "boto3-1.0.dist-info/METADATA",
        "boto3-1.0.dist-info/WHEEL",
        "boto3/__init__.py",
        "boto3/core.py",
    }


def test_without_record_top_level_txt_names_the_modules(tmp_path: Path) -> None:
    _add_dist(tmp_path, "python-dateutil", "dateutil", [], record=False)
    (tmp_path / "python_dateutil-1.0.dist-info" / "top_level.txt").write_text("dateutil\n")
    tree = scan(tmp_path, "deps")
    assert "dateutil/__init__.py" in distributions(tree)["python-dateutil"].files


def test_invalid_requires_dist_lines_are_skipped(tmp_path: Path) -> None:
    _add_dist(tmp_path, "odd", "odd", ["not a valid requirement!!", "six"])
    _add_dist(tmp_path, "six", "six", [])
    assert distributions(scan(tmp_path, "deps"))["odd"].requires == {"six"}
