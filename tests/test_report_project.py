"""Project layout lookup."""

from __future__ import annotations

import pytest
from project_fixtures import ROOT, make_project

from flygnn.errors import FlygnnError
from flygnn.report.project import find_project_root, is_project_root


def test_find_project_root_walks_up(tmp_path):
    layout = make_project(tmp_path, bundles=False)
    nested = tmp_path / "chapters" / "deeper"
    nested.mkdir()
    assert find_project_root(nested) == tmp_path
    assert layout.result_dir("sigma-0") == tmp_path / "results" / "sigma-0"
    assert layout.relative(layout.bundle_dir("sigma-0")) == "data/bundles/sigma-0"


def test_checkout_is_a_project():
    assert is_project_root(ROOT), "the repository root must hold _quarto.yml and data/conditions.yaml"


def test_no_project_is_a_clear_error(tmp_path):
    with pytest.raises(FlygnnError, match="no flygnn project found"):
        find_project_root(tmp_path)
