"""The spectral step recovers a known spectrum; the random baseline and the permutation null are right;
the Jacobian of the linearised dynamics is the oracle's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from flygnn.analysis import (
    LinearisedDynamics,
    SpectralAnalysis,
    jacobian_matrix,
    permuted_weights,
    random_alignment_baseline,
    relu_slope,
    weight_matrix,
)
from flygnn.analysis.metrics import dynamics_metrics, spectral_metrics
from flygnn.analysis.spectral import rightmost_eigenvalues


def known_spectrum_edges(n=400, seed=0):
    """A sparse matrix with known eigenvalues and singular values: a permuted diagonal
    plus 2×2 rotation blocks (complex pairs). Returned as edges (row = target)."""
    rng = np.random.default_rng(seed)
    diagonal = rng.uniform(-3, 3, n - 20)
    rows, cols, values = list(range(n - 20)), list(range(n - 20)), list(diagonal)
    eigenvalues = list(diagonal)
    singular = list(np.abs(diagonal))
    for b in range(10):  # blocks [[r, -w], [w, r]]: eigenvalues r ± iw, singular values √(r²+w²) twice
        i = n - 20 + 2 * b
        r, w = rng.uniform(-2, 2), rng.uniform(0.5, 2)
        rows += [i, i, i + 1, i + 1]
        cols += [i, i + 1, i, i + 1]
        values += [r, -w, w, r]
        eigenvalues += [complex(r, w), complex(r, -w)]
        singular += [np.hypot(r, w)] * 2
    permutation = rng.permutation(n)  # relabel neurons: similarity transform, same spectrum
    target, source = permutation[np.array(rows)], permutation[np.array(cols)]
    return np.array(values), source, target, np.array(eigenvalues), np.sort(singular)[::-1]


@pytest.mark.parametrize("dense", [True, False])
def test_recovers_a_known_spectrum(dense):
    W, source, target, eigenvalues, singular = known_spectrum_edges()
    fitted = SpectralAnalysis(n_eigenvalues=30, n_singular=20, dense=dense).fit(W, W, source, target, 400)
    expected = eigenvalues[np.argsort(-np.abs(eigenvalues), kind="stable")][:30]
    np.testing.assert_allclose(np.sort(np.abs(fitted.eigenvalues_true_)), np.sort(np.abs(expected)), rtol=1e-8)
    # every computed eigenvalue is one of the true ones
    distance = np.abs(fitted.eigenvalues_true_[:, None] - eigenvalues[None, :]).min(axis=1)
    assert distance.max() < 1e-8
    np.testing.assert_allclose(fitted.singular_values_true_, singular[:20], rtol=1e-8)
    # W* = W: every singular value matches, and each vector finds itself (up to degenerate pairs)
    np.testing.assert_allclose(fitted.singular_values_corrected_, fitted.singular_values_true_, rtol=1e-8)
    assert fitted.best_left_alignment_.min() > 0.7


def test_unrelated_matrices_align_at_the_random_baseline():
    """Two independent Gaussian matrices: Haar-random singular vectors, the baseline's model."""
    rng = np.random.default_rng(1)
    n = 300
    target, source = np.divmod(np.arange(n * n), n)
    fitted = SpectralAnalysis(n_eigenvalues=10, n_singular=40, dense=False).fit(
        rng.normal(size=n * n), rng.normal(size=n * n), source, target, n
    )
    assert fitted.left_alignment_.mean() == pytest.approx(fitted.random_mean_, rel=0.1)
    assert fitted.best_left_alignment_.mean() == pytest.approx(fitted.random_best_, rel=0.1)
    assert fitted.best_right_alignment_.mean() == pytest.approx(fitted.random_best_, rel=0.1)


def test_random_baseline_known_values():
    mean, best = random_alignment_baseline(13741, 100)
    assert mean == pytest.approx(np.sqrt(2 / (np.pi * 13741)))
    assert mean == pytest.approx(0.0068, abs=1e-4)
    assert best == pytest.approx(0.0234, abs=5e-4)  # docs/design.md, section 7.7: ≈ 0.024, not upstream's 0.10
    # Monte Carlo check of best-of-k in a small dimension
    rng = np.random.default_rng(0)
    n, k = 500, 20
    x = rng.normal(size=(2000, n))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cos = np.abs(x[:1000] @ x[1000 : 1000 + k].T)
    assert cos.max(axis=1).mean() == pytest.approx(random_alignment_baseline(n, k)[1], rel=0.05)


def test_nan_weights_are_dropped_and_counted():
    W = np.array([1.0, np.nan, 2.0])
    matrix, dropped = weight_matrix(W, np.array([0, 1, 2]), np.array([1, 2, 0]), 3)
    assert dropped == 1
    assert matrix[1, 0] == 1.0 and matrix[2, 1] == 0.0 and matrix[0, 2] == 2.0
    W, source, target, _, _ = known_spectrum_edges(n=60)
    corrected = W.copy()
    corrected[:3] = np.nan
    fitted = SpectralAnalysis(n_eigenvalues=5, n_singular=5).fit(W, corrected, source, target, 60)
    assert fitted.dropped_edges_ == 3
    assert spectral_metrics(fitted)["spectral_dropped_edges"].value == 3


def test_edges_with_undefined_corrected_weight_leave_both_matrices():
    """W* = W except for NaN edges: the spectra must then agree exactly."""
    W, source, target, _, _ = known_spectrum_edges(n=60)
    corrected = W.copy()
    corrected[::7] = np.nan
    fitted = SpectralAnalysis(n_eigenvalues=10, n_singular=10).fit(W, corrected, source, target, 60)
    np.testing.assert_allclose(fitted.singular_values_corrected_, fitted.singular_values_true_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(fitted.eigenvalues_corrected_), np.abs(fitted.eigenvalues_true_), rtol=1e-8)
    np.testing.assert_allclose(fitted.best_left_alignment_, 1.0, rtol=1e-6)


def test_permutation_null_keeps_the_graph_and_the_weights():
    rng = np.random.default_rng(3)
    n, e = 50, 400
    pairs = rng.choice(n * n, size=e, replace=False)
    target, source = np.divmod(pairs, n)
    W = rng.normal(0, 1, e)
    W[:5] = np.nan  # undefined weights stay where they are
    shuffled = permuted_weights(W, np.random.default_rng(0))
    np.testing.assert_array_equal(np.isnan(shuffled), np.isnan(W))
    np.testing.assert_array_equal(np.sort(shuffled[5:]), np.sort(W[5:]))  # the same multiset
    assert not np.array_equal(shuffled[5:], W[5:])  # but reassigned
    original, _ = weight_matrix(W, source, target, n)
    null, _ = weight_matrix(shuffled, source, target, n)
    assert set(zip(*original.nonzero(), strict=False)) == set(zip(*null.nonzero(), strict=False))  # the same graph


def test_permutation_null_of_a_diagonal_matrix_has_its_singular_values_but_not_its_vectors():
    """Shuffling the weights of a diagonal matrix keeps it diagonal: exactly the same singular values (rank-matched
    R² = 1, error 0), but each value now sits on another neuron, so the singular vectors do not align."""
    n = 80
    W = np.linspace(1.0, 3.0, n)  # distinct singular values: no degenerate vectors
    neurons = np.arange(n)
    fitted = SpectralAnalysis(n_eigenvalues=10, n_singular=10, n_permutations=2).fit(W, W, neurons, neurons, n)
    assert fitted.null_singular_values_.shape == (2, 10)
    np.testing.assert_allclose(fitted.null_singular_values_, np.tile(fitted.singular_values_true_, (2, 1)), rtol=1e-12)
    np.testing.assert_allclose(fitted.best_left_alignment_, 1.0, rtol=1e-9)  # W* = W finds its vectors
    assert fitted.null_best_left_alignment_.mean() < 0.5  # the null, mostly not
    metrics = spectral_metrics(fitted)
    assert metrics["spectral_singular_values_error_null"].value == pytest.approx(0.0, abs=1e-12)
    assert metrics["spectral_singular_values_R2_null"].value == pytest.approx(1.0)
    assert metrics["spectral_left_alignment_null"].details["shuffles"] == 2


def test_permutation_null_of_a_dense_gaussian_matrix_aligns_at_random():
    """On the complete graph the null is another Gaussian matrix: its vectors align with W's at the random baseline,
    while its singular values, matched by rank, still correlate almost perfectly — why R² by rank needs the null."""
    rng = np.random.default_rng(4)
    n = 300
    target, source = np.divmod(np.arange(n * n), n)
    W = rng.normal(size=n * n)
    fitted = SpectralAnalysis(n_eigenvalues=10, n_singular=40, n_permutations=1, dense=False).fit(
        W, W, source, target, n
    )
    assert fitted.null_best_left_alignment_.mean() == pytest.approx(fitted.random_best_, rel=0.15)
    metrics = spectral_metrics(fitted)
    assert metrics["spectral_singular_values_R2_null"].value > 0.9
    assert metrics["spectral_left_alignment"].value == pytest.approx(1.0)
    assert metrics["spectral_left_alignment_null"].value < 0.2


def test_jacobian_of_the_oracle_is_the_hand_computed_one():
    """J of the oracle's dynamics at an operating point, by autograd, against diag(1/τ)(−I + W·D)."""
    import torch
    from oracle_networks import random_network

    from flygnn.analysis import OracleModel

    source, target, W, tau, v_rest = random_network(n=30, e=150, seed=2)
    source[:4] = target[:4] = np.arange(4)  # self-loops too
    model = OracleModel(source, target, W, tau, v_rest)
    mu = np.random.default_rng(0).uniform(-0.5, 1.0, 30)
    mu[5] = 0.0  # ReLU'(0) = 0 in both
    stimulus = torch.zeros(30, dtype=torch.float64)
    autograd = torch.autograd.functional.jacobian(lambda v: model(v, stimulus), torch.as_tensor(mu)).numpy()
    J = jacobian_matrix(W, source, target, tau, relu_slope(mu)).toarray()
    np.testing.assert_allclose(J, autograd, rtol=1e-12, atol=1e-12)
    by_hand = np.diag(1 / tau) @ (-np.eye(30) + weight_matrix(W, source, target, 30)[0].toarray() @ np.diag(mu > 0))
    np.testing.assert_allclose(J, by_hand, rtol=1e-12, atol=1e-12)


def test_linearised_dynamics_is_the_coupled_part_of_the_full_spectrum():
    """Full J's eigenvalues = those of the block of neurons with μ > 0 and −1/τ of every other neuron."""
    from oracle_networks import random_network

    n = 60
    source, target, W, tau, _ = random_network(n=n, e=400, seed=3)
    mu = np.random.default_rng(1).uniform(-0.5, 1.0, n)
    fitted = LinearisedDynamics(n_eigenvalues=200).fit(W, tau, W, tau, source, target, mu)
    active = mu > 0
    assert fitted.active_.tolist() == active.tolist()
    full = np.linalg.eigvals(jacobian_matrix(W, source, target, tau, relu_slope(mu)).toarray())
    expected = np.r_[fitted.eigenvalues_true_, -1 / tau[~active]]
    assert expected.size == n
    distance = np.abs(full[:, None] - expected[None, :])
    rows, cols = linear_sum_assignment(distance)  # the same multiset: a one-to-one match at ~0 distance
    assert distance[rows, cols].max() < 1e-9
    assert np.all(np.diff(fitted.eigenvalues_true_.real) <= 1e-12)  # decreasing real part
    np.testing.assert_allclose(fitted.eigenvalues_learned_, fitted.eigenvalues_true_)  # learned = truth
    metrics = dynamics_metrics(fitted)
    assert metrics["jacobian_spectral_abscissa_true"].value == pytest.approx(np.max(fitted.eigenvalues_true_.real))
    assert metrics["jacobian_rightmost_error"].value == pytest.approx(0.0, abs=1e-12)
    assert metrics["jacobian_active_neurons"].value == int(active.sum())


def test_linearised_dynamics_leaves_undefined_parameters_out_of_both():
    from oracle_networks import random_network

    n = 40
    source, target, W, tau, _ = random_network(n=n, e=300, seed=4)
    mu = np.full(n, 0.5)
    learned_tau, learned_W = tau.copy(), W.copy()
    learned_tau[0] = np.nan  # τ̂ undefined: the neuron leaves both Jacobians
    inside = (source != 0) & (target != 0)
    learned_W[np.flatnonzero(inside)[:3]] = np.nan  # W* undefined: the edges leave both
    fitted = LinearisedDynamics(n_eigenvalues=10).fit(W, tau, learned_W, learned_tau, source, target, mu)
    assert fitted.excluded_neurons_ == 1 and not fitted.active_[0]
    assert fitted.dropped_edges_ == 3
    np.testing.assert_allclose(fitted.eigenvalues_learned_, fitted.eigenvalues_true_, atol=1e-12)


def test_rightmost_error_is_defined_when_the_true_eigenvalues_are_all_equal():
    """Uncoupled neurons sharing one τ: every true eigenvalue is −1/τ, where an R² would be undefined."""
    n = 30
    neurons = np.arange(n)
    tau = np.full(n, 0.25)
    learned_tau = tau * np.linspace(0.9, 1.1, n)
    fitted = LinearisedDynamics(n_eigenvalues=n).fit(
        np.zeros(n), tau, np.zeros(n), learned_tau, neurons, neurons, np.ones(n)
    )
    np.testing.assert_allclose(fitted.eigenvalues_true_, -4.0)
    expected = np.mean(np.abs(np.sort(1 / learned_tau) - 4.0) / 4.0)
    assert dynamics_metrics(fitted)["jacobian_rightmost_error"].value == pytest.approx(expected)


def test_rightmost_eigenvalues_sparse_and_dense_agree():
    from oracle_networks import random_network

    n = 300
    source, target, W, tau, _ = random_network(n=n, e=3000, seed=6)
    J = jacobian_matrix(W, source, target, tau, np.ones(n))
    dense = rightmost_eigenvalues(J, 8, dense=True)
    sparse = rightmost_eigenvalues(J, 8, dense=False)
    np.testing.assert_allclose(sparse.real, dense.real, rtol=1e-8)
    np.testing.assert_allclose(np.abs(sparse.imag), np.abs(dense.imag), rtol=1e-6, atol=1e-9)


def test_rightmost_eigenvalues_by_blocks_are_those_of_the_whole_matrix(monkeypatch):
    """A network with a recurrent core, small loops and many neurons outside any loop (equal time constants:
    a highly repeated diagonal) — block by block, with the core sent to ARPACK, gives the dense answer."""
    from scipy.sparse.csgraph import connected_components

    import flygnn.analysis.spectral as spectral

    rng = np.random.default_rng(7)
    n, core = 400, 150
    source, target = rng.integers(0, core, 1500), rng.integers(0, core, 1500)  # the core: one big loop
    feedforward = np.arange(core, n)  # every other neuron gets input from an earlier one, never back
    source = np.r_[source, rng.integers(0, core, feedforward.size), [200, 201]]
    target = np.r_[target, feedforward, [201, 200]]  # and one 2-loop among them
    W = rng.normal(0, 0.3, source.size)
    tau = np.r_[rng.uniform(0.02, 0.3, core), np.full(n - core, 0.3)]  # 248 equal −1/τ outside loops
    # the 2-loop's pair has real part −1/τ of its own neurons: not −1/0.3, or it would tie with the repeated
    # eigenvalue, and which of the tied ones fall among the 60 rightmost would be decided by rounding
    tau[[200, 201]] = 0.25
    J = jacobian_matrix(W, source, target, tau, np.ones(n))
    sizes = np.bincount(connected_components(J, directed=True, connection="strong")[1])
    assert sizes.max() == core and (sizes == 2).sum() == 1
    expected = rightmost_eigenvalues(J, 60, dense=True)
    repeated = np.isclose(expected, -1 / 0.3, atol=1e-9)
    assert 0 < repeated.sum() < 60  # the 60 rightmost: loop modes and the repeated −1/τ
    monkeypatch.setattr(spectral, "DENSE_BELOW", 100)  # the core now goes to ARPACK
    found = spectral.rightmost_eigenvalues_by_blocks(J, 60)
    np.testing.assert_allclose(found.real, expected.real, atol=1e-8)
    np.testing.assert_allclose(np.abs(found.imag), np.abs(expected.imag), atol=1e-7)
