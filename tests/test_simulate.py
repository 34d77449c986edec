"""Known-answer tests of the Euler simulator on hand-built two-neuron networks."""

from __future__ import annotations

import numpy as np
import pytest

from flygnn.connectome import Network
from flygnn.errors import FlygnnError
from flygnn.groundtruth import GroundTruth
from flygnn.simulate import DT, Simulator


def toy_network(edges: list[tuple[int, int]], types=("R1", "L1")) -> Network:
    """Neuron k has type k, all in column (0, 0); R1 is the only input."""
    n = len(types)
    source = np.array([e[0] for e in edges], dtype=np.int64)
    target = np.array([e[1] for e in edges], dtype=np.int64)
    zeros_n, zeros_e = np.zeros(n, dtype=np.int64), np.zeros(len(edges), dtype=np.int64)
    return Network(
        extent=0,
        type_names=tuple(types),
        neuron_type=np.arange(n, dtype=np.int64),
        neuron_u=zeros_n,
        neuron_v=zeros_n,
        source=source,
        target=target,
        edge_du=zeros_e,
        edge_dv=zeros_e,
        flyvis_sign=np.ones(len(edges), dtype=np.float32),
        flyvis_syn_count=np.ones(len(edges), dtype=np.float32),
    )


def truth(tau, v_rest, W) -> GroundTruth:
    f4 = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    return GroundTruth(tau=f4(tau), v_rest=f4(v_rest), W=f4(W), source="test", synthetic=True)


def run(simulator: Simulator, luminance: np.ndarray, v0, seed=0):
    chunks = list(simulator.run([luminance], np.asarray(v0, dtype=np.float32), np.random.default_rng(seed)))
    return chunks[0]


def test_isolated_neuron_relaxes_to_v_rest_with_time_constant_tau():
    tau, v_rest, v0 = 0.2, 0.3, 1.0
    simulator = Simulator(toy_network([]), truth([tau, tau], [v_rest, v_rest], []), sigma=0.0)
    steps = 200
    chunk = run(simulator, np.zeros((steps, 1), dtype=np.float32), [v0, v0])
    v = chunk.voltage[:, 1].astype(np.float64)
    # Euler: v_t − V_rest = (v0 − V_rest)(1 − dt/τ)^t, which tends to exp(−t dt/τ)
    expected = v_rest + (v0 - v_rest) * (1 - DT / tau) ** np.arange(steps)
    np.testing.assert_allclose(v, expected, rtol=1e-5, atol=1e-6)
    # the fitted decay time constant is τ up to the Euler discretisation
    fitted = -DT / np.log((v[60] - v_rest) / (v[59] - v_rest))
    assert fitted == pytest.approx(tau, rel=DT / tau)
    # the recorded target is the clean derivative at the recorded state
    np.testing.assert_allclose(chunk.target[:, 1], (v_rest - chunk.voltage[:, 1]) / tau, rtol=1e-5, atol=1e-6)


def test_two_neuron_chain_passes_w_times_relu_of_source():
    W = -0.7
    simulator = Simulator(toy_network([(0, 1)]), truth([0.1, 0.1], [0.0, 0.0], [W]), sigma=0.0)
    for v_source in (-0.5, 0.0, 0.8):
        derivative = simulator.derivative(np.array([v_source, 0.2], dtype=np.float32), np.zeros(2, dtype=np.float32))
        assert derivative[1] == pytest.approx((-0.2 + W * max(v_source, 0.0)) / 0.1, rel=1e-6)
        # no edge 1 -> 0: the source only relaxes
        assert derivative[0] == pytest.approx(-v_source / 0.1, rel=1e-6, abs=1e-7)


def test_stimulus_reaches_only_photoreceptors():
    simulator = Simulator(toy_network([]), truth([0.1, 0.1], [0.0, 0.0], []), sigma=0.0)
    chunk = run(simulator, np.full((5, 1), 0.9, dtype=np.float32), [0.0, 0.0])
    np.testing.assert_array_equal(chunk.stimulus[:, 0], np.float32(0.9))
    np.testing.assert_array_equal(chunk.stimulus[:, 1], 0.0)


def test_noise_is_a_per_step_kick_of_std_sigma():
    sigma = 0.05
    n_types = tuple(f"T{k}" for k in range(200))
    network = toy_network([], types=("R1", *n_types))
    n = network.n_neurons
    simulator = Simulator(network, truth(np.full(n, 0.1), np.zeros(n), []), sigma=sigma)
    chunk = run(simulator, np.zeros((400, 1), dtype=np.float32), np.zeros(n))
    # residual of one step after removing the deterministic Euler update
    residual = chunk.voltage[1:] - (chunk.voltage[:-1] + DT * chunk.target[:-1])
    assert residual.std() == pytest.approx(sigma, rel=0.02)
    assert abs(residual.mean()) < 3 * sigma / np.sqrt(residual.size)


def test_clamped_tau_divides_by_max_tau_dt():
    simulator = Simulator(toy_network([]), truth([0.01, 0.5], [0.0, 0.0], []), sigma=0.0, tau_mode="clamped")
    derivative = simulator.derivative(np.array([1.0, 1.0], dtype=np.float32), np.zeros(2, dtype=np.float32))
    np.testing.assert_allclose(derivative, [-1.0 / DT, -1.0 / 0.5], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sigma": -0.1}, "sigma must be"),
        ({"sigma": 0.1, "tau_mode": "odd"}, "tau mode"),
        ({"sigma": float("nan")}, "sigma"),
    ],
)
def test_bad_settings_are_refused_with_a_message(kwargs, message):
    with pytest.raises(FlygnnError, match=message):
        Simulator(toy_network([]), truth([0.1, 0.1], [0.0, 0.0], []), **kwargs)


def test_ground_truth_of_another_network_is_refused():
    with pytest.raises(FlygnnError, match="does not fit the network"):
        Simulator(toy_network([(0, 1)]), truth([0.1, 0.1], [0.0, 0.0], []), sigma=0.0)


def test_steady_state_is_stationary_under_grey_input(small_network, flyvis_model_dir):
    from flygnn.groundtruth import load_ground_truth

    simulator = Simulator(small_network, load_ground_truth(small_network, flyvis_model_dir), sigma=0.0)
    v = simulator.steady_state(steps=400)
    grey = simulator.current(np.full(small_network.n_columns, 0.5, dtype=np.float32))
    assert (
        np.abs(simulator.derivative(v, grey)).max() < 1e-2 * np.abs(simulator.derivative(simulator.v_rest, grey)).max()
    )


def test_simulation_presets_are_read_and_checked(tmp_path):
    from flygnn.simulate import load_presets

    assert load_presets()["smoke"] == {"extent": 1, "train_frames": 600, "test_frames": 200}
    path = tmp_path / "simulation.yaml"
    # YAML 1.1 (PyYAML) reads 6e2, without a dot, as a string
    path.write_text("smoke:\n  extent: 1\n  train_frames: 6e2\n  test_frames: 200\n")
    assert load_presets(path)["smoke"]["train_frames"] == 600
    path.write_text("smoke:\n  extent: 40\n  train_frames: 600\n  test_frames: 200\n")
    with pytest.raises(FlygnnError, match=r"simulation.yaml, smoke\.extent: .*less than or equal to 15 \(got 40\)"):
        load_presets(path)
    path.write_text("smoke:\n  extent: 1\n  train_frames: 600\n")
    with pytest.raises(FlygnnError, match=r"smoke\.test_frames: Field required; expected recorded test frames"):
        load_presets(path)
