"""The lock files (requirements/*.txt, written by bin/lock) against their sources (requirements/*.in) and each other:
an .in file edited without running bin/lock, or a hand edit of a lock, fails here rather than in an install."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
LOCKS = ("core", "dev", "prod", "bench")  # bench: bench/ only, its own environment
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def sources(name: str) -> list[Requirement]:
    """The requirements of requirements/<name>.in, following its -r includes."""
    found: list[Requirement] = []
    for line in (REQUIREMENTS / f"{name}.in").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found += sources(line.removeprefix("-r ").strip().removesuffix(".in"))
        elif line:
            found.append(Requirement(line))
    return found


def pins(name: str) -> dict[str, str]:
    return {
        canonicalize_name(m[1]): m[2]
        for line in (REQUIREMENTS / f"{name}.txt").read_text().splitlines()
        if (m := PIN.match(line))
    }


@pytest.mark.parametrize("name", LOCKS)
def test_every_direct_dependency_is_locked_at_a_version_its_source_allows(name):
    locked = pins(name)
    wanted = sources(name)
    assert len(wanted) >= len(sources("core")) > 10, "found too few requirements: the scan is broken"
    for requirement in wanted:
        version = locked.get(canonicalize_name(requirement.name))
        assert version, f"{requirement.name} is in {name}.in but not in {name}.txt: run bin/lock"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}.txt has {requirement.name}=={version}, {name}.in asks for {requirement}: run bin/lock"
        )


@pytest.mark.parametrize("name", LOCKS)
def test_every_locked_package_has_its_hashes(name):
    entries: list[list[str]] = []
    for line in (REQUIREMENTS / f"{name}.txt").read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            entries.append([line])
        elif entries:
            entries[-1].append(line)
    assert len(entries) == len(pins(name)) > 10
    for first, *rest in entries:
        assert PIN.match(first), f"{name}.txt: {first} is not an exact pin"
        assert any(line.strip().startswith("--hash=sha256:") for line in rest), f"{name}.txt: {first} has no hash"


def test_a_package_in_several_locks_has_one_version_in_all():
    # CI installs dev.txt and prod.txt into one .venv; the quick start's .venv has core.txt then dev.txt.
    # bench/ runs the app's code beside its peers: a package it shares with the app or the tests has their version.
    locked = {name: pins(name) for name in LOCKS}
    for package, version in locked["core"].items():
        assert locked["dev"][package] == version, package
        assert locked["prod"][package] == version, package
        assert locked["bench"][package] == version, package
    for package in locked["dev"].keys() & locked["prod"].keys():
        assert locked["dev"][package] == locked["prod"][package], package
    for package in locked["dev"].keys() & locked["bench"].keys():
        assert locked["dev"][package] == locked["bench"][package], package


def test_the_bench_lock_stays_out_of_every_install_of_the_app():
    # backtesting.py, pandas and bokeh are for bench/backtest.py's comparison only.
    installs = [ROOT / "bin" / "_venv.sh", ROOT / "bin" / "run", ROOT / "bin" / "test", ROOT / "Dockerfile"]
    assert not [path.name for path in installs if "bench.txt" in path.read_text()]
    for name in ("core", "dev", "prod"):
        assert "backtesting" not in pins(name), name


def test_the_quick_start_the_tests_and_the_image_install_the_locks_with_their_hashes():
    venv = (ROOT / "bin" / "_venv.sh").read_text()
    assert "--require-hashes" in venv
    assert "ensure_venv requirements/core.txt" in (ROOT / "bin" / "run").read_text()
    test = (ROOT / "bin" / "test").read_text()
    assert "ensure_venv requirements/dev.txt requirements/prod.txt" in test  # MySQL runs need mysqlclient
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements/prod.txt /tmp/requirements.txt" in dockerfile
    assert "--require-hashes -r /tmp/requirements.txt" in dockerfile
