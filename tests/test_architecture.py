"""The package draws as a stack: no import runs back up, and no two parts import each other.

Every module under src/flygnn is parsed (imports inside functions included) and each
import is mapped to the top-level part it comes from and goes to: a module of the
package (``bundle``) or a subpackage (``analysis``). Known answer first: a small
made-up package whose one upward import must be reported with its file and line.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# The layers, lowest first. A part may import only from the layers below its own: not
# from above (an arrow back up) and not from its own layer (siblings stay independent,
# e.g. the libraries simulate, train and analysis). A new module or subpackage
# needs a place here before its test passes.
LAYERS: list[tuple[str, ...]] = [
    ("flygnn", "errors"),  # the package itself (its version) and the error users see
    ("schema",),  # how config files are read and checked, with messages a user can act on
    (
        "atomic",
        "code_digest",
        "conditions",
        "locks",
        "metric_format",
        "metric_names",
        "sections",
        "stimulus",
    ),  # contracts with no dependencies
    ("project",),  # where a project's files are: paths only
    ("connectome",),
    ("groundtruth", "model"),
    ("dataset", "bundle"),  # the files the stages exchange
    ("simulate", "train", "analysis"),  # the stages' libraries, side by side
    ("figures",),  # drawing what the analysis computed
    ("notebook", "upstream", "replicate_runs"),  # I/O façades over the libraries and figures
    ("report",),  # the book: chapter parts from the results, Quarto
    ("stages",),  # the pipeline stages' entry functions (simulate, train, analyze, report), over all of the above
    ("cli",),
    ("__main__",),
]


@dataclass(frozen=True)
class Import:
    source: str  # the importing part
    target: str  # the imported part
    where: str  # path:line


def part_of(module: str) -> str:
    """``flygnn.analysis.gauge`` → ``analysis``; ``flygnn`` → ``flygnn``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_imports(root: Path, part: Callable[[str], str] = part_of) -> list[Import]:
    """Every import of the package by itself under ``root`` (the folder holding ``flygnn/``),
    between the parts (``part``) the modules belong to (default: top-level parts; the identity gives
    single modules); ``where`` is relative to the folder above ``root`` (the repository for ``src/``)."""
    package = root / "flygnn"
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(root).with_suffix("")
        module_parts = list(relative.parts)
        if module_parts[-1] == "__init__":
            module_parts.pop()
        module = ".".join(module_parts)
        # the package a relative import starts from
        here = module_parts if path.name == "__init__.py" else module_parts[:-1]
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                name = ".".join(base + ([node.module] if node.module else []))
                if (
                    name == "flygnn"
                ):  # `from flygnn import cli`: the submodule; `from flygnn import __version__`: the package
                    targets = [
                        f"flygnn.{alias.name}"
                        if (package / alias.name).is_dir() or (package / f"{alias.name}.py").is_file()
                        else "flygnn"
                        for alias in node.names
                    ]
                else:
                    targets = [name]
            else:
                continue
            for target in targets:
                if target.split(".")[0] != "flygnn":
                    continue
                source, imported = part(module), part(target)
                if source != imported:
                    found.append(Import(source, imported, f"{path.relative_to(root.parent)}:{node.lineno}"))
    return found


def cycle(imports: list[Import]) -> list[str] | None:
    """One cycle of the graph of parts (``[a, b, a]``), or None."""
    graph = defaultdict(set)
    for imp in imports:
        graph[imp.source].add(imp.target)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for following in sorted(graph[node]):
            if state.get(following) == 1:
                return path[path.index(following) :] + [following]
            if following not in state and (found := visit(following)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def layering_violations(imports: list[Import], layers: list[tuple[str, ...]]) -> list[str]:
    """One line per import that is not strictly downward, naming the file and line."""
    level = {part: number for number, layer in enumerate(layers) for part in layer}
    problems = []
    for part in sorted({imp.source for imp in imports} | {imp.target for imp in imports}):
        if part not in level:
            problems.append(f"{part!r} has no layer: add it to LAYERS in tests/test_architecture.py")
    for imp in imports:
        if imp.source not in level or imp.target not in level:
            continue
        if level[imp.target] >= level[imp.source]:
            kind = "a sibling in its own layer" if level[imp.target] == level[imp.source] else "a layer above it"
            problems.append(
                f"{imp.where}: {imp.source} imports {imp.target}, {kind} "
                f"({', '.join(layers[level[imp.source]])} may import only from layers below)"
            )
    return problems


def test_a_made_up_upward_import_is_named_with_its_file_and_line(tmp_path):
    package = tmp_path / "flygnn"
    (package / "low").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low" / "__init__.py").write_text("from . import core\n")
    (package / "low" / "core.py").write_text("def f():\n    from flygnn.high import g\n    return g\n")
    (package / "high.py").write_text("from flygnn.low.core import f\n")
    imports = package_imports(tmp_path)
    assert sorted((i.source, i.target) for i in imports) == [("high", "low"), ("low", "high")]
    assert cycle(imports) == ["high", "low", "high"]
    assert layering_violations(imports, [("low",), ("high",)]) == [
        f"{tmp_path.name}/flygnn/low/core.py:2: low imports high, a layer above it (low may import only from layers below)"
    ]
    assert layering_violations(imports, [("low", "high")])[0].endswith(
        "a sibling in its own layer (low, high may import only from layers below)"
    )
    assert layering_violations(imports, [("high",)]) == [
        "'low' has no layer: add it to LAYERS in tests/test_architecture.py"
    ]


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return package_imports(SRC)


def test_no_two_parts_of_the_package_import_each_other(imports):
    found = cycle(imports)
    assert found is None, (
        "import cycle: "
        + " → ".join(found)
        + "".join(
            f"\n  {imp.where}: {imp.source} imports {imp.target}"
            for imp in imports
            if (imp.source, imp.target) in set(zip(found, found[1:], strict=False))
        )
    )


def test_no_two_modules_import_each_other():
    # inside a part too (e.g. report's chapters, quarto and notebook pages): modules form a stack
    imports = package_imports(SRC, part=lambda module: module)
    found = cycle(imports)
    assert found is None, "import cycle between modules: " + " → ".join(found)


def test_every_import_runs_down_the_layers(imports):
    problems = layering_violations(imports, LAYERS)
    assert not problems, "\n".join(problems)


def test_every_part_has_exactly_one_layer():
    parts = [part for layer in LAYERS for part in layer]
    assert len(parts) == len(set(parts))
    package = SRC / "flygnn"
    present = {p.stem for p in package.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in package.iterdir() if (p / "__init__.py").is_file()
    }
    assert present <= set(parts), f"{sorted(present - set(parts))} have no layer: add them to LAYERS"


def test_whoever_saves_a_figure_applies_the_style_first():
    """The style is set by whoever draws (never on import): a module that saves figures calls apply_style."""
    package = SRC / "flygnn"
    for path in sorted(package.rglob("*.py")):
        if path == package / "figures" / "style.py":
            continue
        calls = {
            node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call)
        }
        imported = {
            alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module == "flygnn.figures.style"
            for alias in node.names
        }
        if "save_figure" in imported and "save_figure" in calls:
            assert "apply_style" in calls, f"{path.relative_to(SRC.parent)} saves figures without apply_style()"
