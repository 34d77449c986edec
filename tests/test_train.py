"""Training: configuration from presets, the loss, a smoke run, exact resume, bad input.

The state files and the end-to-end orchestration have their own modules
(tests/test_train_state.py, tests/test_stages_train.py); the fixtures they share
live in tests/conftest.py.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from flygnn.errors import FlygnnError
from flygnn.model import FlyVisGNN
from flygnn.train import (
    Trainer,
    TrainingDiverged,
    TrainingFrames,
    TrainingState,
    load_training_config,
    loss_terms,
    monotonicity_penalty,
    resolve_device,
)
from flygnn.train.config import _same_setting, presets_file


def smoke_config(**changes):
    config = load_training_config("smoke", 0.05, {"iterations": 60, "log_every": 10})
    return dataclasses.replace(config, **changes)


# -- configuration ---------------------------------------------------------------------


def test_published_coefficients_per_sigma():
    config = load_training_config("paper", 0.5)
    assert (config.embedding_dim, config.hidden, config.layers, config.W_init_scale) == (2, 80, 3, 0.25)
    assert (config.monotonicity, config.anchor, config.g_phi_L1) == (750, 0.9, 0.28)
    assert (config.f_theta_L1, config.f_theta_L2, config.W_L1) == (0.5, 1e-3, 7.5e-5)
    assert (config.lr_W, config.lr_mlp, config.lr_embedding) == (6e-4, 1.2e-3, 1.55e-3)
    assert (config.batch_size, config.iterations) == (2, 128000)
    sigma0 = load_training_config("paper", 0.0)
    assert (sigma0.embedding_dim, sigma0.monotonicity, sigma0.anchor, sigma0.W_L1) == (4, 1500, 0, 0)
    assert load_training_config("paper", 0.05).iterations == 112000


def test_cpu_preset_scales_learning_rates_and_overrides_win():
    config = load_training_config("cpu", 0.05, {"iterations": 7, "seed": 3, "batch_size": None})
    assert config.lr_W == pytest.approx(1.5 * 9e-4)
    assert config.lr_embedding == pytest.approx(1.5 * 2.325e-3)
    assert (config.iterations, config.seed) == (7, 3)
    assert config.batch_size == load_training_config("cpu", 0.05).batch_size


def test_a_sigma_without_published_settings_takes_the_nearest_and_says_so():
    config = load_training_config("cpu", 0.2)
    nearest = load_training_config("cpu", 0.05)
    assert config.derived_from == 0.05 and config.sigma == 0.2
    assert config.differences(nearest.to_dict()) == ["sigma: 0.05 -> 0.2"]
    assert load_training_config("cpu", 0.4).derived_from == 0.5
    assert load_training_config("cpu", 0.5).derived_from is None


def presets_with(tmp_path, old: str, new: str):
    """A copy of the shipped presets file with one line changed."""
    text = presets_file().read_text()
    assert old in text
    path = tmp_path / "training.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_rates_in_exponent_notation_are_numbers(tmp_path):
    # YAML 1.1 (PyYAML) reads 9e-4, without a dot, as the string '9e-4'
    path = presets_with(tmp_path, "learning_rates: {W: 9.0e-4,", "learning_rates: {W: 9e-4,")
    assert load_training_config("paper", 0.05, path=path).lr_W == 9e-4


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "architecture: {hidden: 32}",
            "architecture: {hidden: lots}",
            r"presets\[smoke\]\.all\.architecture\.hidden: .*'lots'",
        ),
        (
            "architecture: {hidden: 32}",
            "architecture: {hidden: -4}",
            r"presets\[smoke\]\.all\.architecture\.hidden: .*greater than or equal to 1",
        ),
        (
            "architecture: {hidden: 32}",
            "architecture: {hidden: 1000000000000}",
            r"presets\[smoke\]\.all\.architecture\.hidden: .*less than or equal to 4096",
        ),
        (
            "schedule: {batch_size: 2, iterations: 300}",
            "schedul: {batch_size: 2}",
            r"presets\[smoke\]\.all\.schedul: unknown key.*allowed: architecture, loss",
        ),
        (
            "    schedule: {batch_size: 4, iterations: 96000}",
            "    schedule: {batch_size: 4}",
            r"published #1: a published configuration gives every setting; add schedule\.iterations",
        ),
        (
            "learning_rates: {W: 6.0e-4,",
            "learning_rates: {W: fast,",
            r"published #1\.learning_rates\.W: .*'fast'.*a learning rate > 0",
        ),
    ],
    ids=["hidden-lots", "hidden-negative", "hidden-huge", "unknown-key", "incomplete-published", "rate-not-a-number"],
)
def test_a_bad_presets_file_is_refused_naming_the_field(tmp_path, old, new, expected):
    path = presets_with(tmp_path, old, new)
    with pytest.raises(FlygnnError, match=rf"^{re.escape(str(path))}, {expected}") as refused:
        load_training_config("smoke", 0.05, path=path)
    assert "\n" not in str(refused.value)


def test_unknown_preset_is_refused_with_the_choices():
    with pytest.raises(FlygnnError, match="unknown training preset 'fast'.*paper, cpu, smoke"):
        load_training_config("fast", 0.5)


# -- loss ------------------------------------------------------------------------------


def test_monotonicity_is_zero_for_an_increasing_function_and_known_otherwise():
    v = torch.linspace(-1, 1, 11)
    increasing = torch.relu(v) ** 2
    assert monotonicity_penalty(increasing, torch.relu(v + 0.1) ** 2).item() == 0.0
    # g²(v) = -v decreases by exactly 0.1 at every point: ‖0.1 · 1‖₂ over 11 points
    assert monotonicity_penalty(-v, -(v + 0.1)).item() == pytest.approx(0.1 * np.sqrt(11), rel=1e-5)


def test_loss_terms_match_their_definitions(tiny_network):
    torch.manual_seed(0)
    config = smoke_config()
    model = FlyVisGNN.from_network(tiny_network, **config.architecture())
    N = tiny_network.n_neurons
    v, I, y = torch.randn(2, N), torch.zeros(2, N), torch.randn(2, N)
    terms = loss_terms(model, v, I, y, config, xnorm=0.3)
    assert set(terms) == {"prediction", "monotonicity", "anchor", "g_phi_L1", "f_theta_weights", "W_L1"}
    torch.testing.assert_close(terms["prediction"], (model(v, I) - y).norm())
    g2 = model.message(torch.full((N,), 0.6), model.a)
    torch.testing.assert_close(terms["anchor"], config.anchor * (g2 - 0.6).norm())
    torch.testing.assert_close(terms["W_L1"], config.W_L1 * model.W.abs().sum())
    # the regularisers see the embeddings as constants
    terms["monotonicity"].backward(retain_graph=True)
    terms["anchor"].backward()
    assert model.a.grad is None or torch.all(model.a.grad == 0)
    sigma0 = load_training_config("paper", 0.0)
    assert set(loss_terms(FlyVisGNN.from_network(tiny_network, **sigma0.architecture()), v, I, y, sigma0, 0.3)) == {
        "prediction",
        "monotonicity",
    }


# -- training --------------------------------------------------------------------------


def test_training_lowers_the_loss_and_moves_every_parameter_group(frames, tiny_network):
    torch.set_num_threads(1)
    config = smoke_config(iterations=150)
    trainer = Trainer(config, tiny_network, progress=False)
    torch.manual_seed(config.seed)
    initial = FlyVisGNN.from_network(tiny_network, **config.architecture())
    trainer.fit(frames)
    assert trainer.iteration_ == 150
    history = trainer.history_
    assert [row["iteration"] for row in history] == list(range(10, 151, 10))
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]
    # the prediction error on every training frame falls too (slowly: the targets are
    # noise-driven and per-neuron time constants take thousands of iterations to learn)
    v, y = torch.from_numpy(frames.voltage), torch.from_numpy(frames.target)
    I = torch.from_numpy(frames.stimulus_frames(np.arange(frames.n_frames)))
    with torch.no_grad():
        assert (trainer.model_(v, I) - y).norm() < (initial(v, I) - y).norm()
    trained = dict(trainer.model_.named_parameters())
    for name, before in initial.named_parameters():
        assert not torch.equal(before, trained[name]), f"{name} did not move"
    assert trainer.xnorm_ == pytest.approx(1.5 * frames.voltage.std(), rel=1e-4)


def test_resume_reproduces_the_uninterrupted_run(frames, tiny_network, tmp_path):
    torch.set_num_threads(1)
    full = Trainer(smoke_config(iterations=40), tiny_network, progress=False).fit(frames)
    saved = []
    first = Trainer(smoke_config(iterations=20), tiny_network, progress=False, save_state=saved.append).fit(frames)
    assert first.iteration_ == 20 and saved[-1].iteration == 20
    # through the files, as a fresh clone would continue
    saved[-1].save(tmp_path / "state")
    state = TrainingState.load(tmp_path / "state")
    resumed = Trainer(smoke_config(iterations=40), tiny_network, progress=False)
    resumed.fit(frames, initial_state=state, history=first.history_)
    assert resumed.iteration_ == 40
    for (name, a), b in zip(full.model_.state_dict().items(), resumed.model_.state_dict().values(), strict=False):
        assert torch.equal(a, b), name
    assert [r["loss"] for r in full.history_] == [r["loss"] for r in resumed.history_]
    assert [leg["ended_iteration"] for leg in resumed.legs_] == [20, 40]


def test_resume_refuses_other_settings(frames, tiny_network):
    saved = []
    Trainer(smoke_config(iterations=10), tiny_network, progress=False, save_state=saved.append).fit(frames)
    with pytest.raises(FlygnnError, match="batch_size: 2 -> 3"):
        saved[-1].check_compatible(smoke_config(batch_size=3), tiny_network.fingerprint(), None, "state")
    # leg settings may change between legs
    saved[-1].check_compatible(
        smoke_config(iterations=99, score_every=7, lr_factor=0.3), tiny_network.fingerprint(), None, "state"
    )


def test_a_leg_can_lower_the_learning_rates(frames, tiny_network):
    saved = []
    trainer = Trainer(smoke_config(iterations=10), tiny_network, progress=False, save_state=saved.append).fit(frames)
    slower = Trainer(smoke_config(iterations=20, lr_factor=0.25), tiny_network, progress=False)
    slower.fit(frames, initial_state=saved[-1])
    assert slower.legs_[-1]["lr_factor"] == 0.25 and trainer.legs_[-1]["lr_factor"] == 1.0
    with pytest.raises(FlygnnError, match="factor must be > 0"):
        load_training_config("smoke", 0.05, {"lr_factor": 0.0})


def test_learning_rate_steps_equal_legs_stopped_and_resumed_at_the_steps(frames, tiny_network):
    """A run with steps at 10 and 20 is bit-exact the legs 0-10 (×0.5), 10-20 (×0.25), 20-30 (×0.1)
    resumed by hand, and records the same legs; a run resumed between steps picks up the schedule."""
    torch.set_num_threads(1)
    steps = ((10, 0.25), (20, 0.1))
    whole = Trainer(smoke_config(iterations=30, lr_factor=0.5, lr_steps=steps), tiny_network, progress=False).fit(
        frames
    )
    by_hand = Trainer(smoke_config(iterations=10, lr_factor=0.5), tiny_network, progress=False).fit(frames)
    for end, factor in ((20, 0.25), (30, 0.1)):
        previous = by_hand
        by_hand = Trainer(smoke_config(iterations=end, lr_factor=factor), tiny_network, progress=False)
        by_hand.fit(frames, initial_state=previous.state_, history=previous.history_)
    for (name, a), b in zip(whole.model_.state_dict().items(), by_hand.model_.state_dict().values(), strict=False):
        assert torch.equal(a, b), name
    assert [r["loss"] for r in whole.history_] == [r["loss"] for r in by_hand.history_]
    record = [(leg["started_iteration"], leg["ended_iteration"], leg["lr_factor"]) for leg in whole.legs_]
    assert record == [(0, 10, 0.5), (10, 20, 0.25), (20, 30, 0.1)]
    assert record == [(leg["started_iteration"], leg["ended_iteration"], leg["lr_factor"]) for leg in by_hand.legs_]
    assert "learning-rate step" in whole.legs_[1]["note"]

    # stopped at 15 (between the steps) and resumed with the same schedule: same model, one leg per factor run
    first = Trainer(smoke_config(iterations=15, lr_factor=0.5, lr_steps=steps), tiny_network, progress=False).fit(
        frames
    )
    resumed = Trainer(smoke_config(iterations=30, lr_factor=0.5, lr_steps=steps), tiny_network, progress=False)
    resumed.fit(frames, initial_state=first.state_, history=first.history_)
    for (name, a), b in zip(whole.model_.state_dict().items(), resumed.model_.state_dict().values(), strict=False):
        assert torch.equal(a, b), name
    assert [(leg["started_iteration"], leg["lr_factor"]) for leg in resumed.legs_] == [
        (0, 0.5),
        (10, 0.25),
        (15, 0.25),
        (20, 0.1),
    ]


def test_learning_rate_steps_are_read_and_checked():
    from flygnn.train import parse_lr_steps

    assert parse_lr_steps("60000:0.3, 80_000:0.1") == ((60000, 0.3), (80000, 0.1))
    config = smoke_config(lr_factor=0.5, lr_steps=((10, 0.25), (15, 0.1)))
    assert [config.lr_factor_at(i) for i in (0, 9, 10, 14, 15, 99)] == [0.5, 0.5, 0.25, 0.25, 0.1, 0.1]
    for text, message in (
        ("60000", "not ITERATION:FACTOR"),
        ("6:0.3,5:0.1", "increasing"),
        ("0:0.3", "> 0"),
        ("6:0", "factors must be > 0"),
        ("6:nan", "factors must be > 0"),
        ("6:x", "not ITERATION:FACTOR"),
    ):
        with pytest.raises(FlygnnError, match=message):
            parse_lr_steps(text)
    with pytest.raises(FlygnnError, match="increasing"):
        load_training_config("smoke", 0.05, {"lr_steps": [(5, 0.3), (5, 0.1)]})
    assert load_training_config("smoke", 0.05, {"lr_steps": [[5, 0.3]]}).lr_steps == ((5, 0.3),)


def test_a_leg_can_draw_its_frames_from_a_new_stream(frames, tiny_network):
    torch.set_num_threads(1)
    saved = []
    Trainer(smoke_config(iterations=10), tiny_network, progress=False, save_state=saved.append).fit(frames)
    state = saved[-1]
    same = Trainer(smoke_config(iterations=20), tiny_network, progress=False).fit(frames, initial_state=state)
    again = Trainer(smoke_config(iterations=20), tiny_network, progress=False).fit(frames, initial_state=state)
    reseeded = Trainer(smoke_config(iterations=20, frame_seed=7), tiny_network, progress=False).fit(
        frames, initial_state=state
    )
    assert torch.equal(same.model_.W, again.model_.W)
    assert not torch.equal(same.model_.W, reseeded.model_.W)  # other frames, another path
    assert reseeded.legs_[-1]["frame_seed"] == 7 and "frame_seed" not in same.legs_[-1]
    # the new stream is saved with the state: the next leg continues it exactly
    saved = []
    Trainer(smoke_config(iterations=15, frame_seed=7), tiny_network, progress=False, save_state=saved.append).fit(
        frames, initial_state=state
    )
    continued = Trainer(smoke_config(iterations=20), tiny_network, progress=False).fit(frames, initial_state=saved[-1])
    assert torch.equal(continued.model_.W, reseeded.model_.W)
    # a leg setting: the state resumes under it
    state.check_compatible(smoke_config(frame_seed=3), tiny_network.fingerprint(), None, "state")
    with pytest.raises(FlygnnError, match="frame seed must be >= 0"):
        load_training_config("smoke", 0.05, {"frame_seed": -1})


def test_scores_go_into_the_history_every_score_every_iterations(frames, tiny_network):
    calls = []

    def scorer(model):
        assert not model.training
        calls.append(1)
        return {"W_corrected_R2": float(len(calls))}

    trainer = Trainer(smoke_config(iterations=50, score_every=20), tiny_network, progress=False, scorer=scorer).fit(
        frames
    )
    scored = [row["iteration"] for row in trainer.history_ if "W_corrected_R2" in row]
    assert scored == [0, 20, 40, 50]  # the start, every 20, and the end


def test_every_score_is_a_line_on_stderr_even_without_a_progress_bar(frames, tiny_network, capfd):
    # a run in the background (nohup … > log) printed nothing for hours until its leg ended
    scores = {"W_corrected_R2": 0.5, "W_corrected_slope": 1.0, "tau_R2": 0.25, "V_rest_R2": float("nan")}
    Trainer(smoke_config(iterations=40, score_every=20), tiny_network, progress=False, scorer=lambda m: scores).fit(
        frames
    )
    lines = capfd.readouterr().err.splitlines()
    assert [line.split(" · ")[0] for line in lines] == ["iteration 20 of 40", "iteration 40 of 40"]
    assert lines[0].endswith(" · W R² 0.50000 · slope 1.00000 · τ R² 0.25000 · V_rest R² nan"), lines[0]
    assert " it/s · loss " in lines[0]


def test_progress_line_names_every_recovery_metric():
    from flygnn.metric_names import RECOVERY_METRICS
    from flygnn.train.trainer import SCORE_LABELS, progress_line

    assert tuple(SCORE_LABELS) == RECOVERY_METRICS
    assert progress_line({"iteration": 1234.0}, 200_000) == "iteration 1,234 of 200,000"


def test_time_limit_and_stop_end_the_leg_at_a_log_boundary(frames, tiny_network):
    import threading

    stop = threading.Event()
    stop.set()
    trainer = Trainer(smoke_config(iterations=60), tiny_network, progress=False, stop=stop).fit(frames)
    assert trainer.stopped_early_ and trainer.iteration_ == 10
    trainer = Trainer(smoke_config(iterations=60), tiny_network, progress=False, time_limit_s=0.0).fit(frames)
    assert trainer.stopped_early_ and trainer.iteration_ == 10 and trainer.state_.iteration == 10


def test_divergence_names_the_iteration(frames, tiny_network):
    config = smoke_config(lr_W=1e30, lr_mlp=1e30, lr_embedding=1e30)
    with pytest.raises(TrainingDiverged, match=r"diverged at iteration [2-9]"):
        Trainer(config, tiny_network, progress=False).fit(frames)


def test_frames_from_another_network_are_refused(frames, small_network):
    with pytest.raises(FlygnnError, match="another network"):
        Trainer(smoke_config(), small_network, progress=False).fit(frames)


def test_frames_keep_only_stimulated_columns_and_reject_nan(dataset, frames, tiny_network):
    np.testing.assert_array_equal(frames.stimulus_neurons, tiny_network.input_indices)
    picked = np.array([0, 5, 17])
    np.testing.assert_array_equal(frames.stimulus_frames(picked), dataset.read("train", "stimulus", picked))
    voltage = dataset.read("train", "voltage")
    voltage[7, 3] = np.nan
    with pytest.raises(FlygnnError, match="voltage has NaN or infinite values at frame 7"):
        TrainingFrames.from_arrays(voltage, dataset.read("train", "stimulus"), dataset.read("train", "target"))


def test_devices_that_do_not_exist_are_refused():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(FlygnnError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(FlygnnError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_resume_compares_float_settings_up_to_rounding():
    assert _same_setting(1.5 * 2.325e-3, 3.4875e-3)  # 0.0034874999999999997 vs 0.0034875
    assert not _same_setting(1.8e-3, 2.7e-3)
    assert _same_setting(2, 2) and not _same_setting(2, 4)


def test_scoring_when_a_leg_stops_early_is_not_training_time(frames, tiny_network):
    import time

    def slow_scorer(model):
        time.sleep(0.5)
        return {"W_corrected_R2": 0.5}

    config = smoke_config(iterations=60, score_every=1000)  # scored at the start and at the early stop
    started = time.perf_counter()
    trainer = Trainer(config, tiny_network, progress=False, scorer=slow_scorer, time_limit_s=0.0).fit(frames)
    elapsed = time.perf_counter() - started
    assert trainer.stopped_early_ and [row["iteration"] for row in trainer.history_ if "W_corrected_R2" in row] == [
        0,
        10,
    ]
    assert trainer.wall_time_s_ <= elapsed - 2 * 0.5  # neither sleep is training time


def test_ctrl_c_says_whether_a_state_was_saved(frames, tiny_network, capsys):
    def interrupt(model):
        raise KeyboardInterrupt

    saved = []
    for save_state, expected in (
        (saved.append, "training state saved (continue with --resume)"),
        (None, "this run saves no state"),
    ):
        trainer = Trainer(
            smoke_config(iterations=40, score_every=20),
            tiny_network,
            progress=False,
            scorer=interrupt,
            save_state=save_state,
        )
        with pytest.raises(KeyboardInterrupt):
            trainer.fit(frames)
        assert f"interrupted at iteration 0; {expected}" in capsys.readouterr().err
    assert [state.iteration for state in saved] == [0]
