"""The local AWS's layout, as moto and LocalStack lay out theirs: a package per service on one core, and no circle of
imports. Read from the source (every import statement, at any depth, TYPE_CHECKING blocks included), so a circle
cannot hide inside a function."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "infra" / "checks"))
from module_graph import circles  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[1] / "peerlab_local"
SERVICES = {"ec2", "ssm", "stepfunctions", "lambda_", "iam", "events", "cloudformation", "servicequotas"}


def _module_name(path: Path) -> str:
    parts = ["peerlab_local", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import of one of our modules."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                for alias in child.names:
                    target = f"{module}.{alias.name}"
                    target = target if target in modules else module
                    if target in modules and target != name:
                        found.append((target, child.lineno, in_function))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name in modules and alias.name != name:
                        found.append((alias.name, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = _modules()
    return {name: {target for target, _, _ in _imports(name, path, modules)} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each circle of imports, as a path from a module back to it (infra/checks/module_graph.py's finder, which holds
    lab-core's Rust modules to the same rule)."""
    return [circle for _, circle in circles(edges)]


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_circle_of_imports_between_modules():
    assert cycles(graph()) == []


def test_no_circle_of_imports_between_packages():
    # a package imports another when any of its modules does (its __init__ imports its modules)
    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        edges.setdefault(_package_of(module), set()).update(
            _package_of(t) for t in targets if _package_of(t) != _package_of(module))
    assert cycles(edges) == []


def test_no_import_of_our_own_modules_hidden_inside_a_function():
    modules = _modules()
    hidden = [f"{path.relative_to(PACKAGE)}:{line} imports {target}"
              for name, path in modules.items() for target, line, inside in _imports(name, path, modules) if inside]
    assert hidden == []


def test_the_core_stands_below_every_service_and_the_server_uses_no_tool():
    edges = graph()
    core_up = sorted(f"{m} -> {t}" for m, ts in edges.items() if _package_of(m) == "core"
                     for t in ts if _package_of(t) != "core")
    assert core_up == []
    uses_tools = sorted(f"{m} -> {t}" for m, ts in edges.items() if _package_of(m) != "tools"
                        for t in ts if _package_of(t) == "tools")
    assert uses_tools == []


def test_every_service_is_a_package_that_lists_its_installs():
    for service in sorted(SERVICES):
        init = PACKAGE / service / "__init__.py"
        assert init.exists(), service
        tree = ast.parse(init.read_text())
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "install" in names, f"{service}/__init__.py has no install()"


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c", "a"]]),
    ({"a": {"b"}, "b": set(), "c": {"a", "b"}}, []),
])
def test_the_circle_finder_finds_circles(edges, expected):
    # the test of the test: a circle through three modules is found (as a path back to its start), a tree is not
    assert cycles(edges) == expected


def _unused(package: Path, readers: list[Path]) -> list[str]:
    """Top-level functions and classes of `package` that nothing names: not the package, its tests, the bench.
    Registered ones count as used: a decorated definition (a builder table, `once`), a subclass of a moto class (moto
    finds its models by subclass). An exception class counts only if something names it (raises, catches)."""
    used: set[str] = set()
    for path in sorted(package.rglob("*.py")) + readers:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.ImportFrom):
                used |= {alias.name for alias in node.names}
    unused = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.decorator_list:
                continue
            bases = [ast.unparse(b) for b in getattr(node, "bases", [])]
            exception = any(b.endswith(("Error", "Exception", "Changed")) for b in bases)
            if bases and not exception:
                continue
            if node.name not in used and not node.name.startswith("__"):
                unused.append(f"{path.relative_to(package)}: {node.name}")
    return unused


def test_nothing_defined_at_the_top_of_a_module_goes_unused():
    # dead code issue 21 found: config.ConfigError, network.find_endpoint_by_ip, identities.StateMachineRefused
    local = PACKAGE.parent
    readers = sorted((local / "tests").rglob("*.py")) + [local.parents[1] / "bench" / "run.py"]
    assert _unused(PACKAGE, readers) == []
