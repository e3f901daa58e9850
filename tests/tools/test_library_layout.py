"""Library vs tools: ``slowfast/`` never imports the tools' support package, the scripts find
``slowfast`` and ``sftools`` without editing ``sys.path``, and the multigrid modules import each
other without a cycle."""

from __future__ import annotations

import ast
import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _imports(path: str) -> set[str]:
    """Every absolute module name ``path`` imports, at any depth of its code."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _module_name(path: str) -> str:
    name = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def test_the_library_never_imports_the_tools_package():
    files = glob.glob(os.path.join(ROOT, "slowfast", "**", "*.py"), recursive=True)
    assert len(files) > 50
    offenders = {
        os.path.relpath(p, ROOT): sorted(m for m in _imports(p) if m.split(".")[0] == "sftools")
        for p in files
    }
    assert {p: m for p, m in offenders.items() if m} == {}


def test_no_tool_edits_sys_path():
    files = glob.glob(os.path.join(ROOT, "tools", "**", "*.py"), recursive=True)
    assert os.path.join(ROOT, "tools", "sftools", "__init__.py") in files
    for path in files:
        with open(path, encoding="utf-8") as f:
            assert "sys.path.insert" not in f.read(), os.path.relpath(path, ROOT)


def test_multigrid_modules_import_each_other_without_a_cycle():
    files = glob.glob(os.path.join(ROOT, "slowfast", "multigrid", "*.py"))
    graph = {_module_name(p): _imports(p) for p in files}
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    # The package __init__ re-exports from its modules; none of them imports it back.
    assert all("slowfast.multigrid" not in deps for deps in graph.values())

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for dep in graph[start] - seen:
            seen.add(dep)
            if dep == target or reaches(dep, target, seen):
                return True
        return False

    assert [m for m in graph if reaches(m, m, set())] == []
    # The schedule is data: its modules import no other multigrid module but the phase.
    assert graph["slowfast.multigrid.phase"] == set()
    assert graph["slowfast.multigrid.schedule"] == {"slowfast.multigrid.phase"}
