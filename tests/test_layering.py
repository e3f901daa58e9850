"""The package's shape, enforced: layers import only downwards and no module imports form a cycle.

Layers, lowest first: config <- utils <- models, datasets, checkpoint <- multigrid <- engine. A
module may import from its own layer or a lower one. Imports are read from the source with `ast`
(nothing is executed), so the rules hold for every module, imported by a test or not.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "slowfast")
LAYERS = {
    "config": 0,
    "utils": 1,
    "models": 2,
    "datasets": 2,
    "checkpoint": 2,
    "multigrid": 3,
    "engine": 4,
}


# PySlowFast's import paths for scripts written against it (docs/MIGRATING.md). They hold
# imports only and nothing in the package imports them, so an alias pointing up a layer cannot
# form a cycle or pull a layer's dependants into it: that is the one exception to the rule.
PYSLOWFAST_ALIASES = {
    "slowfast.utils.multigrid",
    "slowfast.utils.checkpoint",
    "slowfast.utils.misc",
    "slowfast.models.optimizer",
    "slowfast.models.losses",
}


def _modules() -> dict[str, str]:
    """Every module of the package, dotted name -> file path."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, tree: ast.Module) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, at module level) for each import of a package module.

    An import under `if TYPE_CHECKING:` is left out: it never runs. `from a import b` names the
    submodule `a.b` when there is one, else the module `a`.
    """
    is_package = MODULES[module].endswith("__init__.py")

    def visit(node: ast.AST, top: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "slowfast":
                        yield _known(alias.name), child.lineno, top
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                if base.split(".")[0] != "slowfast":
                    continue
                for alias in child.names:
                    target = f"{base}.{alias.name}"
                    yield (target if target in MODULES else _known(base)), child.lineno, top
            else:
                inner = top and not isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
                )
                yield from visit(child, inner)

    yield from visit(tree, True)


def _known(name: str) -> str:
    """The longest prefix of a dotted name that is a module of the package."""
    parts = name.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts)


def _graph() -> dict[str, list[tuple[str, int, bool]]]:
    graph = {}
    for module, path in MODULES.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        graph[module] = [edge for edge in _imports(module, tree) if edge[0] != module]
    return graph


GRAPH = _graph()


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_every_subpackage_has_a_layer():
    subpackages = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    assert subpackages <= set(LAYERS), sorted(subpackages - set(LAYERS))


def test_no_module_imports_a_higher_layer():
    upward = []
    for module, edges in GRAPH.items():
        if module in PYSLOWFAST_ALIASES:
            continue  # the named exception (see PYSLOWFAST_ALIASES)
        own = _layer(module)
        for target, line, _ in edges:
            theirs = _layer(target)
            if own is not None and theirs is not None and theirs > own:
                upward.append(f"{MODULES[module]}:{line} imports {target}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_library_does_not_import_tools_or_tests():
    offenders = []
    for _module, path in MODULES.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            offenders += [
                f"{path}:{node.lineno} imports {n}"
                for n in names
                if n.split(".")[0] in {"tools", "tests", "sftools"}
            ]
    assert not offenders, "\n".join(offenders)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


@pytest.mark.parametrize("module_level_only", [True, False], ids=["module-level", "all-imports"])
def test_no_import_cycles(module_level_only):
    """No cycle among module-level imports, nor once imports inside functions are counted too
    (an import moved into a function hides a cycle; it does not remove it)."""
    edges = {
        module: {t for t, _, top in targets if top or not module_level_only}
        for module, targets in GRAPH.items()
    }
    # A package's __init__ re-exporting its submodules is not a cycle by itself: a submodule
    # importing its own package's __init__ is, and stays counted.
    cycles = _cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The rules above can fail: a made-up graph with a cycle and an upward edge is caught."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _layer("slowfast.engine.trainer") > _layer("slowfast.utils.logging")


MAX_LINES = 350


def test_long_modules_say_why():
    """No module over ~350 lines unless its docstring says why it is longer than the rule."""
    unexplained = []
    for path in MODULES.values():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.count("\n")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_LINES and "longer than the ~350-line rule" not in " ".join(doc.split()):
            unexplained.append(f"{path}: {lines} lines")
    assert not unexplained, "\n".join(unexplained)


def test_pyslowfast_aliases_hold_imports_only_and_nothing_imports_them():
    assert PYSLOWFAST_ALIASES <= set(MODULES)
    for module in sorted(PYSLOWFAST_ALIASES):
        with open(MODULES[module], encoding="utf-8") as f:
            tree = ast.parse(f.read())
        body = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
        docstring, *rest = body
        assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
        assert [type(n) for n in rest] == [ast.Assign], module  # __all__ and nothing else
        assert rest[0].targets[0].id == "__all__", module
    importers = [
        f"{m} imports {target}"
        for m, edges in GRAPH.items()
        for target, _, _ in edges
        if target in PYSLOWFAST_ALIASES
    ]
    assert importers == []
