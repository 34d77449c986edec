"""The library code a piece of work runs, found from its imports: known answers on a
made-up package, then the real notebooks (whose figures must be redrawn when the figure
code they reach only through other modules changes)."""

from __future__ import annotations

from pathlib import Path

import nbformat

from flygnn.code_digest import imported_modules, module_closure, notebook_imports, source_digest

ROOT = Path(__file__).resolve().parents[1]


def make_package(tmp_path: Path) -> Path:
    """flygnn/{__init__, a/__init__, a/b, c, d, e}.py: b imports c inside a function, c
    imports d relatively; e is imported by nobody."""
    root = tmp_path / "flygnn"
    (root / "a").mkdir(parents=True)
    files = {
        "__init__.py": "__version__ = '0'\n",
        "a/__init__.py": "",
        "a/b.py": "import numpy\n\ndef f():\n    from flygnn.c import thing\n    return thing\n",
        "c.py": "from . import d\nthing = d.value\n",
        "d.py": "value = 1\n",
        "e.py": "value = 2\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_the_closure_follows_imports_inside_functions_relative_ones_and_parent_packages(tmp_path):
    root = make_package(tmp_path)
    closure = module_closure(["flygnn.a.b"], root)
    assert list(closure) == ["flygnn", "flygnn.a", "flygnn.a.b", "flygnn.c", "flygnn.d"]
    assert closure["flygnn.a"] == root / "a" / "__init__.py"


def test_the_digest_changes_with_a_module_in_the_closure_and_only_then(tmp_path):
    root = make_package(tmp_path)
    before = source_digest(["flygnn.a.b"], root=root)
    (root / "e.py").write_text("value = 3\n")
    assert source_digest(["flygnn.a.b"], root=root) == before, "e is not imported"
    (root / "d.py").write_text("value = 4\n")
    assert source_digest(["flygnn.a.b"], root=root) != before, "d is imported through c"


def test_an_extra_template_is_part_of_the_digest(tmp_path):
    root = make_package(tmp_path)
    template = root / "a" / "part.qmd.j2"
    template.write_text("{{ x }}\n")
    before = source_digest(["flygnn.a"], [template], root=root)
    template.write_text("{{ y }}\n")
    assert source_digest(["flygnn.a"], [template], root=root) != before


def test_names_from_a_module_are_not_mistaken_for_modules():
    names = imported_modules("from flygnn.analysis.clustering import TypeClustering\nimport os\n")
    assert names == {"flygnn.analysis.clustering", "flygnn.analysis.clustering.TypeClustering"}
    closure = module_closure(names)
    assert "flygnn.analysis.clustering" in closure
    assert "flygnn.analysis.clustering.TypeClustering" not in closure


def test_notebook_imports_skip_magics_and_markdown(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("import flygnn.nothing"),
        nbformat.v4.new_code_cell("%matplotlib inline\nfrom flygnn.figures.weights import raw_weights_figure"),
        nbformat.v4.new_code_cell("!echo not python"),
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    assert notebook_imports(path) == {"flygnn.figures.weights", "flygnn.figures.weights.raw_weights_figure"}


def test_the_real_notebooks_reach_the_shared_figure_style_and_the_gauge():
    names = set().union(*(notebook_imports(path) for path in sorted((ROOT / "analysis").glob("*.ipynb"))))
    closure = module_closure(names)
    # neither is named in a notebook: both are reached through the modules the notebooks import
    assert "flygnn.figures.style" in closure
    assert "flygnn.analysis.gauge" in closure
    # and the book's own layers are not what an analysis runs
    assert not any(name.startswith(("flygnn.report", "flygnn.stages", "flygnn.cli")) for name in closure)


def test_an_edit_of_the_figure_style_changes_the_analysis_code_digest(monkeypatch):
    import flygnn
    from flygnn.stages.analyze import AnalysisRunner

    templates = {path.stem: path for path in sorted((ROOT / "analysis").glob("*.ipynb"))}
    before = AnalysisRunner.code_digest(templates)
    target = Path(flygnn.__file__).parent / "figures" / "style.py"
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read_bytes(self) + (b"#" if self == target else b""))
    assert AnalysisRunner.code_digest(templates) != before
