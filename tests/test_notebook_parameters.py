"""The notebook parameters: one definition for the notebooks' cell, the runner and load_context."""

from __future__ import annotations

from flygnn.notebook.parameters import NotebookParameters


def test_the_parameters_cell_known_answer():
    parameters = NotebookParameters("sigma-0p5", 0.5, "../../data/bundles/sigma-0p5", ".", synthetic_groundtruth=True)
    assert parameters.cell() == (
        'condition = "sigma-0p5"\n'
        "sigma = 0.5\n"
        'bundle = "../../data/bundles/sigma-0p5"\n'
        'output_dir = "."\n'
        'dataset = ""\n'
        'flyvis_model = ""\n'
        "synthetic_groundtruth = True"
    )
    assert tuple(parameters.as_dict()) == NotebookParameters.names()


def test_the_cell_reads_back_as_the_same_parameters():
    parameters = NotebookParameters('odd "name" σ', 0.05, "a b/ç", "out", dataset="d.zarr", flyvis_model="/m")
    namespace: dict = {}
    exec(parameters.cell(), namespace)
    assert NotebookParameters(**{name: namespace[name] for name in NotebookParameters.names()}) == parameters
