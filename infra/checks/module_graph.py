"""lab-core's module graph, read from its Rust sources: which of the crate's top-level modules each one uses.

A module is a top-level module of `functions/lab-core/src` with all its files (`teardown.rs` and `teardown/*.rs` are
`teardown`). It uses another when its code names it: a `crate::<module>` path (in a `use` or inline, grouped
`crate::{a, b::c}` too) or a `super::` path that climbs out of it. Test code is left out as aws_calls reads it
(`#[cfg(test)]` items, `tests.rs`, `test_support.rs`): nothing imports a test module, so it can close no circle.
Two rules (issue 21):
- no circle: no module reaches itself through the modules it uses;
- the shared vocabulary (`VOCABULARY`) uses none of the other modules (the steps and what only steps share).

    python -m module_graph     # from infra/checks: each module and what it uses, then the rules; exit 1 if broken
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from aws_calls import CORE, strip

# What every step may use: errors, the input and its plan, the payloads, clients, tags, the exercises and their hops,
# the security-group operations, the Lambda glue. Every other module is a step's, or what only steps share
# (`diagnose`, `peering`): the vocabulary uses none of them.
VOCABULARY = frozenset(
    {"error", "input", "model", "clients", "tags", "exercise", "hop", "security_groups", "lambda"}
)
TEST_FILES = ("tests.rs", "test_support.rs")

Graph = dict[str, set[str]]


def module_path(src: Path, path: Path) -> list[str]:
    """`teardown/plan.rs` -> ["teardown", "plan"]; `lib.rs` -> [] (the crate's root)."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    return [] if parts == ["lib"] else parts


def reexports(src: Path) -> dict[str, str]:
    """Names the crate's root re-exports (`pub use error::{LabError, Result};`) -> the module they come from, so that
    `crate::Result` counts as a use of `error`."""
    out: dict[str, str] = {}
    for m in re.finditer(r"\bpub\s+use\s+(\w+)::(\{[^}]*\}|\w+)", strip((src / "lib.rs").read_text())):
        for name in re.findall(r"\w+", m.group(2)):
            out[name] = m.group(1)
    return out


def first_segments(source: str, at: int) -> list[str]:
    """The module names a path names from `at` (just after `crate::`): `x` -> [x]; a group `{a, b::c, d::{e, f}}`
    -> [a, b, d], each item's first segment at the group's own depth."""
    single = re.match(r"\s*(\w+)", source[at:])
    if single:
        return [single.group(1)]
    out, depth, item_start = [], 0, True
    for token in re.finditer(r"[{},]|\w+", source[at:]):
        text = token.group(0)
        if text == "{":
            depth += 1
        elif text == "}":
            depth -= 1
            if depth == 0:
                break
        elif text == ",":
            item_start = depth == 1
        elif item_start and depth == 1:
            out.append(text)
            item_start = False
    return out


def uses(path: list[str], source: str, names: dict[str, str]) -> set[str]:
    """The top-level modules the code of module `path` names (its own included; the caller drops it)."""
    found: set[str] = set()
    for m in re.finditer(r"\bcrate\s*::", source):
        found.update(first_segments(source, m.end()))
    for m in re.finditer(r"\b(?:super\s*::\s*)+", source):
        if m.group(0).count("super") >= len(path):  # climbs to the root: what follows names top-level modules
            found.update(first_segments(source, m.end()))
    return {names.get(name, name) for name in found}


def read(src: Path = CORE) -> Graph:
    """Each top-level module -> the other top-level modules its non-test code uses."""
    names = reexports(src)
    graph: Graph = {}
    for file in sorted(src.rglob("*.rs")):
        if file.name in TEST_FILES:
            continue
        path = module_path(src, file)
        if not path:
            continue  # the root declares every module; it is no module's user
        top = path[0]
        graph.setdefault(top, set()).update(uses(path, strip(file.read_text()), names) - {top})
    unknown = {f"{m} -> {u}" for m, used in graph.items() for u in used if u not in graph}
    if unknown:
        raise ValueError(f"paths naming no module of {src}: {', '.join(sorted(unknown))}")
    return graph


def circles(graph: Graph) -> list[tuple[list[str], list[str]]]:
    """Every strongly connected set of more than one module (its members, sorted) with one circle through it
    (`[a, b, a]`)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted((c, circle_through(graph, set(c))) for c in components)


def circle_through(graph: Graph, component: set[str]) -> list[str]:
    """One circle inside a strongly connected set, from its first module back to it (breadth first: the shortest)."""
    start = min(component)
    paths = {w: [start, w] for w in sorted(graph[start] & component)}
    todo = list(paths)
    while start not in paths:
        v = todo.pop(0)
        for w in sorted(graph[v] & component):
            if w not in paths:
                paths[w] = [*paths[v], w]
                todo.append(w)
    return paths[start]


def vocabulary_breaches(graph: Graph) -> list[str]:
    """`input -> exercise` where a vocabulary module uses a module outside the vocabulary."""
    return sorted(f"{m} -> {u}" for m in graph if m in VOCABULARY for u in graph[m] if u not in VOCABULARY)


def problems(graph: Graph) -> list[str]:
    out = [
        f"circle: {' -> '.join(circle)} ({', '.join(members)} all reach each other)"
        for members, circle in circles(graph)
    ]
    out += [f"the shared vocabulary uses a step module: {b}" for b in vocabulary_breaches(graph)]
    missing = sorted(VOCABULARY - set(graph))
    if missing:
        out.append(f"VOCABULARY names modules lab-core does not have: {', '.join(missing)}")
    return out


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else CORE
    graph = read(src)
    for module in sorted(graph):
        kind = "vocabulary" if module in VOCABULARY else "step"
        print(f"{module:20} {kind:11} {' '.join(sorted(graph[module])) or '-'}")
    found = problems(graph)
    for problem in found:
        print(problem)
    sys.exit(1 if found else 0)
