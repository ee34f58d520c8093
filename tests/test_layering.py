"""The layers of docs/architecture.md hold: no module imports upward, no import cycle.

Every `import` in corpuskit (module level or inside a function: a lazy import is still a
dependency) is read with `ast`. A module may import modules of its own component and of any
component in a lower layer; components of one layer do not import each other. A module that
belongs to no component fails the test: place it in LAYERS and in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "corpuskit"

#: Lowest first: component -> the modules and packages it holds (a package: all its modules).
LAYERS: list[dict[str, tuple[str, ...]]] = [
    {
        "core": (
            "corpuskit",
            "corpuskit.schema",
            "corpuskit.registry",
            "corpuskit.jit",
            "corpuskit.progress",
            "corpuskit.cache",
        )
    },
    {"text": ("corpuskit.text",)},
    {
        "readers": ("corpuskit.readers",),
        "output": ("corpuskit.output",),
        "corpus": ("corpuskit.corpus",),
    },
    {"recipe": ("corpuskit.recipe",)},
    {"dedup": ("corpuskit.dedup",), "labelling": ("corpuskit.labelling",)},
    {"steps": ("corpuskit.steps",)},
    {
        "engine": ("corpuskit.engine",),
        "training": ("corpuskit.training",),
        "serving": ("corpuskit.serving",),
    },
    {"report": ("corpuskit.report",)},
    {
        "cli": (
            "corpuskit.cli",
            "corpuskit.labelling.cli",
            "corpuskit.training.cli",
            "corpuskit.serving.cli",
        )
    },
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """The corpuskit modules `path` imports (`from a import b`: a.b if it is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m in known}


def component(module: str) -> tuple[int, str]:
    """(layer, component) of a module: the longest module or package prefix that names it."""
    best: tuple[int, int, str] | None = None
    for layer, components in enumerate(LAYERS):
        for name, prefixes in components.items():
            for prefix in prefixes:
                exact = prefix == "corpuskit"  # the package root holds only itself
                inside = module == prefix or (not exact and module.startswith(prefix + "."))
                if inside and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), layer, name)
    assert best is not None, f"{module} is in no layer: add it to LAYERS and the docs"
    return best[1], best[2]


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {m: imports(p, known) - {m} for m, p in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_layer():
    for module in modules():
        component(module)


def test_no_module_imports_a_higher_layer_or_a_peer():
    bad = []
    for module, targets in graph().items():
        layer, name = component(module)
        for target in sorted(targets):
            t_layer, t_name = component(target)
            if t_name != name and t_layer >= layer:
                kind = "a peer" if t_layer == layer else "a higher layer"
                bad.append(f"{module} ({name}) imports {target} ({t_name}, {kind})")
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_checks_catch_what_they_are_for():
    """An upward import and a cycle, as the checks see them."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert component("corpuskit.dedup.parts") > component("corpuskit.corpus")
    assert component("corpuskit.training.cli")[1] == "cli"
    assert component("corpuskit.schema")[1] == "core"


def test_the_architecture_doc_names_every_component():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [n for layer in LAYERS for n in layer if f"`{n}`" not in doc]
    assert not missing, f"docs/architecture.md does not describe {missing}"
