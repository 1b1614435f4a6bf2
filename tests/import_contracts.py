"""An import-linter contract type it lacks: no cycle between modules, whatever their packages.

`acyclic_siblings` compares packages, so a known cycle between two of the gateway's packages
has to be ignored there; this contract still refuses any module that imports itself back,
through any path (imports under TYPE_CHECKING included). Registered in pyproject.toml
(`contract_types`) and run by `lint-imports` in `make test`.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def module_cycles(graph: ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if child < len(edges[node]):
                work.append((node, child + 1))
                nxt = edges[node][child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return groups


class ModuleAcyclicContract(Contract):
    """`containers`: the packages whose modules (all of them, together) may form no cycle."""

    type_name = "module_acyclic"
    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        containers = [str(c) for c in self.containers]  # type: ignore[attr-defined]
        modules = {m for c in containers for m in (graph.find_descendants(c) | {c})}
        groups = module_cycles(graph, modules)
        return ContractCheck(kept=not groups, metadata={"groups": groups})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for group in check.metadata["groups"]:
            output.print_error(f"These {len(group)} modules import each other in a cycle:")
            output.new_line()
            for module in group:
                output.print(f"- {module}")
            output.new_line()
