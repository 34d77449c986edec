"""A notebook's kernel prints outside its cells to a log file, not to the user's terminal.

ipykernel 7 sometimes logs a traceback as it shuts down (its IOPub thread closes while a
control message is being flushed); C libraries print straight to the process's stderr.
Neither belongs on the terminal of someone who ran ``flygnn report``.
"""

from __future__ import annotations

import nbformat
import pytest

from flygnn.stages.notebook_run import execute_notebook

# end-to-end: a Jupyter kernel per test
pytestmark = pytest.mark.slow


def notebook(tmp_path, *cells: str):
    path = tmp_path / "template.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return path


def test_what_the_kernel_prints_outside_its_cells_goes_to_the_log(tmp_path, capfd):
    template = notebook(tmp_path, "import os\nos.write(2, b'raw kernel noise\\n')\nprint('cell output')")
    log = tmp_path / "kernel.log"
    execute_notebook(template, tmp_path / "out.ipynb", tmp_path, kernel_log=log, kernel_name="python3")
    captured = capfd.readouterr()
    assert "raw kernel noise" in log.read_text()
    assert "raw kernel noise" not in captured.err + captured.out
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "cell output\n", "what a cell prints stays in the notebook"


def test_a_dead_kernels_last_words_are_in_the_log(tmp_path, capfd):
    from nbclient.exceptions import DeadKernelError

    template = notebook(tmp_path, "import os\nos.write(2, b'out of luck\\n')\nos._exit(3)")
    log = tmp_path / "kernel.log"
    with pytest.raises(DeadKernelError):
        execute_notebook(template, tmp_path / "out.ipynb", tmp_path, kernel_log=log, kernel_name="python3")
    assert "out of luck" in log.read_text()
    assert "out of luck" not in capfd.readouterr().err
