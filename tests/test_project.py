"""The project layout: where every default path lives, and how a project is found."""

from __future__ import annotations

import pytest
from project_fixtures import ROOT, make_project

from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout, find_project_root, is_project_root


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


def test_every_default_path_has_one_definition(tmp_path):
    layout = ProjectLayout.at(tmp_path)
    assert layout.conditions_file == tmp_path / "data" / "conditions.yaml"
    assert layout.dataset_path("cpu", "sigma-0p5") == tmp_path / "data" / "datasets" / "cpu" / "sigma-0p5.zarr"
    assert (
        layout.dataset_figures("cpu", "sigma-0p5") == tmp_path / "data" / "datasets" / "cpu" / "figures" / "sigma-0p5"
    )
    assert layout.bundle_dir("sigma-0p5") == tmp_path / "data" / "bundles" / "sigma-0p5"
    assert (
        layout.training_cache_dir("cpu", "sigma-0p5") == tmp_path / "data" / "cache" / "training" / "cpu" / "sigma-0p5"
    )
    result = layout.result("sigma-0")
    assert (result.manifest, result.metrics, result.failed) == (
        tmp_path / "results" / "sigma-0" / "manifest.json",
        tmp_path / "results" / "sigma-0" / "metrics.json",
        tmp_path / "results" / "sigma-0" / "failed",
    )
    assert result.notebook("spectral") == tmp_path / "results" / "sigma-0" / "notebooks" / "spectral.ipynb"
    assert result.figure("fig-tau") == tmp_path / "results" / "sigma-0" / "figures" / "fig-tau.png"
    assert result.old == tmp_path / "results" / ".sigma-0.old"
    assert (layout.book_record, layout.render_record, layout.latest_log, layout.lock_file("sigma-0")) == (
        tmp_path / "results" / "book.json",
        tmp_path / "results" / "book-render.json",
        tmp_path / "results" / "logs" / "report-latest.log",
        tmp_path / "results" / ".locks" / "sigma-0.lock",
    )
    assert (layout.notebooks, layout.generated) == (tmp_path / "analysis", tmp_path / "chapters" / "_generated")


def test_paths_given_by_the_user_are_taken_from_the_cwd(tmp_path, monkeypatch):
    make_project(tmp_path, bundles=False)
    (tmp_path / "data" / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "data")
    layout = ProjectLayout.find(bundles="elsewhere")
    assert layout.root == tmp_path.resolve()
    assert layout.bundle_dir("sigma-0") == tmp_path.resolve() / "data" / "elsewhere" / "sigma-0"
    assert (
        layout.dataset_path("smoke", "sigma-0") == tmp_path.resolve() / "data" / "datasets" / "smoke" / "sigma-0.zarr"
    )


def test_outside_a_project_only_the_given_paths_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FlygnnError, match="no flygnn project found"):
        ProjectLayout.find()
    layout = ProjectLayout.find(required=False, datasets="out")
    assert layout.root is None and layout.dataset_path("smoke", "x") == tmp_path.resolve() / "out" / "smoke" / "x.zarr"
    with pytest.raises(FlygnnError, match="for the default path data/conditions.yaml .* or give that path explicitly"):
        _ = layout.conditions_file
