"""The layers of ARCHITECTURE.md, checked on the code itself (with `ast`): no import cycle between modules, no
import from a lower layer to a higher one, storage and media apart, and no import of lrr_lite inside a
function (the usual way to hide a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lrr_lite"

# (layer, rank, module prefixes) as ARCHITECTURE.md draws them; a module imports only from its own layer or a
# lower-ranked one, and never across two different layers of the same rank.
LAYERS = [
    ("entry", 5, ["lrr_lite.__main__"]),
    ("http", 4, ["lrr_lite.http"]),
    ("context", 3, ["lrr_lite.context"]),
    ("library", 2, ["lrr_lite.library"]),
    ("storage", 1, ["lrr_lite.storage"]),
    ("media", 1, ["lrr_lite.media"]),
    ("base", 0, ["lrr_lite.errors", "lrr_lite.config", "lrr_lite"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> tuple[str, int]:
    best = None
    for name, rank, prefixes in LAYERS:
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[2]:
                    best = (name, rank, len(prefix))
    assert best is not None, module
    return best[0], best[1]


def imports_of(module: str) -> tuple[set[str], list[str]]:
    """(lrr_lite modules imported at module level, lrr_lite imports made inside a function or class body)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    nested: list[str] = []

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names if a.name.split(".")[0] == "lrr_lite"]
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "lrr_lite":
                return []
            # `from pkg import mod` imports the module pkg.mod where one exists
            return [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
        return []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            names = targets(child)
            if names:
                (found.update(names) if top else nested.extend(names))
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
            visit(child, inner)

    visit(tree, True)
    return {m for m in found if m != module}, nested


GRAPH = {m: imports_of(m)[0] for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_layers(module):
    name, rank = layer_of(module)
    for target in sorted(GRAPH[module]):
        target_name, target_rank = layer_of(target)
        assert target_rank < rank or target_name == name, (
            f"{module} ({name}) imports {target} ({target_name}): ARCHITECTURE.md lets a layer import only "
            "its own layer or a lower one, and never across layers of the same rank")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_inside_a_function(module):
    assert imports_of(module)[1] == [], f"{module} imports lrr_lite modules inside a function or class"


def test_no_import_cycle():
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if seen.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt)
        path.pop()
        seen[node] = 2

    for module in sorted(GRAPH):
        if module not in seen:
            visit(module)


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The checks above must be able to fail: feed them a made-up upward import and a made-up cycle."""
    assert layer_of("lrr_lite.library.records")[1] < layer_of("lrr_lite.http.app")[1]
    GRAPH["lrr_lite.library.records"] = GRAPH["lrr_lite.library.records"] | {"lrr_lite.http.app"}
    try:
        with pytest.raises(AssertionError):
            test_imports_run_down_the_layers("lrr_lite.library.records")
        with pytest.raises(AssertionError, match="import cycle"):
            test_no_import_cycle()
    finally:
        GRAPH["lrr_lite.library.records"] = imports_of("lrr_lite.library.records")[0]
