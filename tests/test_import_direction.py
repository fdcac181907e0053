"""Layers import downwards only: every `import` in every module (top level or inside a function) is parsed
with ast and checked against the layer table below. A module may import its own layer or a lower one.

    0  spritegan (the package), storage, config, errors, tensors, labels, precision, allocator
    1  data/, models/
    2  generate/, metrics/
    3  train/
    4  serve/, export/, bench
    5  commands/, cli, __main__
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "spritegan"
LAYERS = {
    "spritegan": 0,
    "storage": 0,
    "config": 0,
    "errors": 0,
    "tensors": 0,
    "labels": 0,
    "precision": 0,
    "allocator": 0,
    "data": 1,
    "models": 1,
    "generate": 2,
    "metrics": 2,
    "train": 3,
    "serve": 4,
    "export": 4,
    "bench": 4,
    "commands": 5,
    "cli": 5,
    "__main__": 5,
}


def module_name(path: Path) -> str:
    parts = ["spritegan", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer of `spritegan.X...` by its first part below the package; fails for an unknown part."""
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "spritegan"
    if key not in LAYERS:
        raise AssertionError(f"{module}: not in the layer table of tests/test_import_direction.py; add it")
    return LAYERS[key]


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported spritegan module) for every import statement in the file, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from spritegan import storage` imports the module spritegan.storage
            found += [(node.lineno, f"{base}.{a.name}" if base == "spritegan" else base) for a in node.names]
    return [(line, mod) for line, mod in found if mod == "spritegan" or mod.startswith("spritegan.")]


def upward_imports() -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path)
        for line, target in imports(path):
            if target.startswith("spritegan.__") and target != "spritegan.__main__":
                target = "spritegan"  # `from spritegan import __version__`
            if layer(target) > layer(here):
                out.append(
                    f"{path.relative_to(SRC.parent)}:{line}: {here} (layer {layer(here)}) imports "
                    f"{target} (layer {layer(target)})"
                )
    return out


def test_layers_import_downwards_only() -> None:
    bad = upward_imports()
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_the_checker_sees_upward_imports(tmp_path, monkeypatch) -> None:
    """The checker itself: a models/ module importing train/ inside a function is caught."""
    pkg = tmp_path / "spritegan"
    (pkg / "models").mkdir(parents=True)
    (pkg / "models" / "bad.py").write_text(
        "def f():\n    from spritegan.train import checkpoint\n    from ..commands import edit\n"
    )
    (pkg / "models" / "good.py").write_text("from spritegan import storage\nfrom ..data import palette\n")
    monkeypatch.setattr(__import__(__name__), "SRC", pkg)
    bad = upward_imports()
    assert len(bad) == 2 and all("spritegan.models.bad" in b for b in bad), bad


@pytest.mark.parametrize(
    "part", sorted({p.parts[0] for p in (q.relative_to(SRC) for q in SRC.rglob("*.py"))})
)
def test_every_module_has_a_layer(part: str) -> None:
    assert part.removesuffix(".py") in LAYERS or part == "__init__.py"


def package_graph() -> str:
    """The imports between top-level parts, one line per importing part, lowest layer first: the block that
    docs/architecture.md shows (regenerate it with `python tests/test_import_direction.py`)."""
    edges: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path).split(".")
        a = here[1] if len(here) > 1 else "spritegan"
        for _, target in imports(path):
            parts = target.split(".")
            b = parts[1] if len(parts) > 1 and not parts[1].startswith("__") else "spritegan"
            if a != b and b != "spritegan":
                edges.setdefault(a, set()).add(b)
    order = sorted(LAYERS, key=lambda k: (LAYERS[k], k))
    lines = []
    for a in order:
        if a in edges:
            targets = ", ".join(b for b in order if b in edges[a])
            lines.append(f"{LAYERS[a]}  {a:10s} -> {targets}")
    return "\n".join(lines)


def test_architecture_doc_shows_the_real_graph() -> None:
    doc = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = doc.split("<!-- import-graph -->\n```\n", 1)[1].split("```", 1)[0].strip()
    assert block == package_graph(), (
        "docs/architecture.md: regenerate the graph (python tests/test_import_direction.py)"
    )


if __name__ == "__main__":
    print(package_graph())
