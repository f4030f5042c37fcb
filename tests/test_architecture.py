"""The tree keeps its shape: layers import downwards only, no cycles, no job imports another,
no oversized modules, and the runtime never needs the fixture writers (``msitools.testing``)."""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "msitools"

# lowest first; a module may import its own layer and the layers before it
LAYERS = [
    ("foundation", ["msitools.errors", "msitools.limits", "msitools.findings"]),
    ("base", ["msitools.base"]),
    ("container", ["msitools.container"]),
    ("cab", ["msitools.cab"]),
    ("db", ["msitools.db"]),
    ("pe", ["msitools.pe"]),
    ("kb", ["msitools.kb"]),
    ("payload", ["msitools.payload"]),
    ("patch", ["msitools.patch"]),
    ("inventory", ["msitools.inventory"]),
    ("jobs", ["msitools.verify", "msitools.extract", "msitools.review", "msitools.export", "msitools.describe",
              "msitools.signature", "msitools.sbom", "msitools.diff"]),
    ("render", ["msitools.render"]),
    ("library", ["msitools.library"]),
    ("cli", ["msitools.cli", "msitools.__main__"]),
]
JOBS = LAYERS[10][1]
MAX_LINES = 600
GENERATED = {"msitools.db.schema_catalogue"}


def _modules() -> "dict[str, Path]":
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _layer(module: str) -> "tuple[int, str] | None":
    for rank, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return rank, prefix
    return None


def _imports(path: Path) -> "set[str]":
    """msitools modules imported anywhere in the file (function bodies too; TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("msitools"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("msitools"))
    return found


def _graph() -> "dict[str, set[str]]":
    modules = _modules()
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items() if not name.startswith("msitools.testing") and name != "msitools"}


def test_layers_import_downwards_and_jobs_do_not_import_jobs():
    problems = []
    for module, targets in _graph().items():
        here = _layer(module)
        assert here is not None, f"{module} belongs to no layer: add it to LAYERS"
        for target in targets:
            there = _layer(target)
            if there is None:
                continue  # msitools itself (errors re-exported there are foundation)
            if there[0] > here[0]:
                problems.append(f"{module} ({LAYERS[here[0]][0]}) imports {target} ({LAYERS[there[0]][0]})")
            if here[1] in JOBS and there[1] in JOBS and here[1] != there[1]:
                problems.append(f"job {module} imports job {target}")
    assert not problems, "\n".join(problems)


def test_no_import_cycles():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
            # a package importing its own submodules (its public face) is not a cycle of layers
            if len(component) > 1 and not all(any(c.startswith(o + ".") or o.startswith(c + ".")
                                                  for o in component if o != c) for c in component):
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_no_module_over_600_lines():
    long = {name: len(path.read_text().splitlines()) for name, path in _modules().items()
            if name not in GENERATED}
    assert not {n: c for n, c in long.items() if c > MAX_LINES}


def test_runtime_never_imports_the_fixture_writers():
    """Import every runtime module with msitools.testing made unimportable."""
    modules = sorted(n for n in _modules() if not n.startswith("msitools.testing") and n != "msitools.__main__")
    script = textwrap.dedent(f"""
        import importlib, importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "msitools.testing" or name.startswith("msitools.testing."):
                    raise ImportError("blocked: " + name)
                return None
        sys.meta_path.insert(0, Block())
        for name in {modules!r}:
            importlib.import_module(name)
        import msitools
        for name in msitools.__all__:
            getattr(msitools, name)
        loaded = [m for m in sys.modules if m.startswith("msitools.testing")]
        assert not loaded, loaded
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_public_api_is_documented():
    import msitools

    undocumented = [name for name in msitools.__all__
                    if name != "__version__" and not (getattr(msitools, name).__doc__ or "").strip()]
    assert not undocumented
