"""The module-level cycle check that `lint-imports` runs (tests/import_contracts.py)."""

from __future__ import annotations

import grimp

from tests.import_contracts import module_cycles


def graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    built = grimp.ImportGraph()
    for importer, imported in imports:
        built.add_import(importer=importer, imported=imported)
    return built


def test_a_tree_of_imports_has_no_cycle() -> None:
    g = graph(("p.a", "p.b"), ("p.a", "p.c"), ("p.b", "p.c"), ("q.x", "p.a"))
    assert module_cycles(g, set(g.modules)) == []


def test_every_cycle_is_found_with_all_its_modules_whatever_their_packages() -> None:
    g = graph(
        ("p.cli.bench", "p.cli.overhead"),
        ("p.cli.overhead", "p.cli.bench"),  # the cycle the CLI had
        ("p.a.one", "p.b.two"),
        ("p.b.two", "p.c.three"),
        ("p.c.three", "p.a.one"),  # across three packages
        ("p.c.three", "p.d.leaf"),
    )
    cycles = sorted(module_cycles(g, set(g.modules)))
    assert cycles == [["p.a.one", "p.b.two", "p.c.three"], ["p.cli.bench", "p.cli.overhead"]]


def test_modules_outside_the_containers_do_not_count() -> None:
    g = graph(("p.a", "ext.b"), ("ext.b", "p.a"))
    assert module_cycles(g, {"p.a"}) == []
