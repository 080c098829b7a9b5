"""The package's house rules, checked on its source: no import circles, and every
import points down the data path's layers (docs/architecture.md).

Imports inside functions count: a circle held together by a deferred import is
still a circle."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Layer of each module or subpackage: an import may point at its own layer or a lower one.
LAYERS = {
    "vqcodec": 0, "vqcodec.config": 0, "vqcodec.errors": 0,
    "vqcodec.format": 1, "vqcodec.media": 1,
    "vqcodec.models": 2,
    "vqcodec.coding": 3,
    "vqcodec.motion": 4,
    "vqcodec.codec": 5,
    "vqcodec.zoo": 6,
    "vqcodec.modes": 7,
    "vqcodec.stream": 8,
    "vqcodec.recovery": 9,
    "vqcodec.api": 10,
    "vqcodec.bench": 11, "vqcodec.training": 11, "vqcodec.demo": 11, "vqcodec.batch": 11,
    "vqcodec_cli": 12,
}


def _modules() -> dict[str, Path]:
    out = {}
    for base, pkg in ((ROOT / "vqcodec", "vqcodec"), (ROOT / "cli", "vqcodec_cli")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([pkg, *parts])] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the project `name` imports anywhere in its file (functions included)."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_pkg else 0)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `from pkg import name`: the package itself
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(name: str) -> int:
    while name not in LAYERS:
        name = name.rpartition(".")[0]
    return LAYERS[name]


def test_the_walker_sees_deferred_and_relative_imports():
    graph = _graph()
    assert "vqcodec.zoo" in graph["vqcodec.stream"]  # imported inside a function
    assert "vqcodec.modes.full" in graph["vqcodec.modes"]  # the registry's deferred import
    assert "vqcodec.format.container" in graph["vqcodec.format.sync"]  # relative


def test_no_import_circles():
    graph, state, circles = _graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_imports_point_down_the_layers():
    upward = [f"{a} ({_layer(a)}) imports {b} ({_layer(b)})"
              for a, targets in _graph().items() for b in targets
              if _layer(b) > _layer(a) and a != "vqcodec"]  # the package's lazy public API
    assert not upward, "\n".join(upward)


def test_the_package_api_imports_lazily():
    tree = ast.parse((ROOT / "vqcodec" / "__init__.py").read_text())
    assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                and getattr(n, "module", "") not in ("__future__",) and not
                (isinstance(n, ast.Import) and [a.name for a in n.names] == ["importlib"])]
