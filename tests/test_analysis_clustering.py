"""Known answers of the clustering step, its scores, its controls and the embedding's principal components."""

from __future__ import annotations

import numpy as np
import pytest

from flygnn.analysis import (
    TypeClustering,
    clustering_control_metrics,
    clustering_features,
    hungarian_accuracy,
    principal_components,
    true_parameter_features,
)
from flygnn.analysis.clustering import purity, standardize
from flygnn.analysis.metrics import clustering_metrics
from flygnn.errors import FlygnnError


def perfect_features(n_types=8, per_type=30, seed=0):
    """Features that encode the type exactly: tight, well-separated blobs."""
    rng = np.random.default_rng(seed)
    types = np.repeat(np.arange(n_types), per_type)
    centres = rng.normal(0, 10, (n_types, 3))
    return centres[types] + rng.normal(0, 0.01, (types.size, 3)), types


def test_features_that_encode_types_give_accuracy_one():
    features, types = perfect_features()
    fitted = TypeClustering(n_components=8, seeds=(0, 1)).fit(features, types)
    assert fitted.accuracy_ == pytest.approx(1.0)
    assert fitted.ari_ == pytest.approx(1.0)
    assert fitted.nmi_ == pytest.approx(1.0)
    assert fitted.purity_ == pytest.approx(1.0)
    assert fitted.scores_["accuracy"].shape == (2,)


def test_hungarian_accuracy_is_one_to_one():
    types = np.array([0, 0, 0, 1, 1, 1])
    assert hungarian_accuracy(np.array([5, 5, 5, 2, 2, 2]), types) == 1.0  # label names do not matter
    # two clusters per type: only one of each pair can be matched, purity still 1
    split = np.array([0, 0, 1, 2, 2, 3])
    assert hungarian_accuracy(split, types) == pytest.approx(4 / 6)
    assert purity(split, types) == 1.0
    # one cluster for everything: matched to one type only
    assert hungarian_accuracy(np.zeros(6, int), types) == pytest.approx(0.5)


def test_clustering_features_edge_statistics():
    embedding = np.zeros((3, 2))
    source = np.array([0, 1, 0])
    target = np.array([2, 2, 1])
    W = np.array([1.0, 3.0, np.nan])  # the NaN is left out, not zeroed
    features, names = clustering_features(embedding, np.ones(3), np.zeros(3), W, source, target)
    assert names == ["a0", "a1", "tau", "v_rest", "W_in_mean", "W_in_std", "W_out_mean", "W_out_std"]
    assert features[2, 4] == 2.0 and features[2, 5] == 1.0  # in: {1, 3}
    assert features[1, 4] == 0.0  # only a NaN edge in: no input
    assert features[0, 6] == 1.0 and features[1, 6] == 3.0


def test_standardize_imputes_and_counts():
    features = np.array([[1.0, np.nan], [2.0, 4.0], [3.0, 6.0]])
    scaled, imputed = standardize(features)
    assert imputed == 1
    assert np.isfinite(scaled).all()
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-12)
    with pytest.raises(FlygnnError, match="NaN for every neuron"):
        standardize(np.array([[1.0, np.nan], [2.0, np.nan]]))


def test_clustering_metrics_names_and_definitions():
    scores = {
        "accuracy": np.array([0.9, 0.8]),
        "ari": np.array([0.5, 0.5]),
        "nmi": np.array([0.7, 0.7]),
        "purity": np.array([1.0, 1.0]),
    }
    metrics = clustering_metrics(0.6, scores)
    assert metrics["clustering_accuracy"].value == pytest.approx(0.6)
    assert metrics["clustering_accuracy"].definition == "upstream-clustering-accuracy"
    assert metrics["clustering_accuracy_standardised"].value == pytest.approx(0.85)
    assert metrics["clustering_accuracy_standardised_std"].value == pytest.approx(0.05)


def test_upstream_clustering_is_one_unscaled_gmm_with_random_state_42():
    """The same labels as scikit-learn's GaussianMixture(100, "full", random_state=42) on the raw features."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    types = np.repeat(np.arange(5), 60)
    features = np.c_[types * 10.0 + rng.normal(0, 0.5, 300), rng.normal(0, 1e-3, 300)]  # unscaled on purpose
    fitted = TypeClustering.upstream().fit(features, types)
    direct = GaussianMixture(n_components=100, covariance_type="full", random_state=42).fit_predict(features)
    np.testing.assert_array_equal(fitted.labels_, direct)
    assert fitted.accuracy_ == pytest.approx(hungarian_accuracy(direct, types))
    assert fitted.scores_["accuracy"].shape == (1,)


def test_true_parameter_features_are_the_features_without_an_embedding():
    source, target = np.array([0, 1, 0]), np.array([2, 2, 1])
    W = np.array([1.0, 3.0, 5.0])
    features, names = true_parameter_features(np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.6, 0.7]), W, source, target)
    assert names == ["tau", "v_rest", "W_in_mean", "W_in_std", "W_out_mean", "W_out_std"]
    full, _ = clustering_features(
        np.zeros((3, 2)), np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.6, 0.7]), W, source, target
    )
    np.testing.assert_array_equal(features, full[:, 2:])


def test_clustering_on_true_parameters_beats_the_learned_estimates():
    """A synthetic network whose parameters are type-specific: the truth clusters at least as well as noisy
    estimates of it, and an embedding that knows nothing does worst."""
    rng = np.random.default_rng(0)
    n_types, per_type = 12, 25
    types = np.repeat(np.arange(n_types), per_type)
    n = types.size
    source, target = rng.integers(0, n, 20000), rng.integers(0, n, 20000)
    pair_weight = rng.normal(0, 1, (n_types, n_types))
    W = pair_weight[types[target], types[source]] + rng.normal(0, 0.05, source.size)
    tau = rng.uniform(0.02, 0.3, n_types)[types]
    v_rest = rng.uniform(0.0, 0.8, n_types)[types]
    truth, _ = true_parameter_features(tau, v_rest, W, source, target)
    learned, _ = clustering_features(
        rng.normal(size=(n, 2)),
        tau + rng.normal(0, 0.05, n),
        v_rest + rng.normal(0, 0.2, n),
        W + rng.normal(0, 0.8, W.size),
        source,
        target,
    )

    def accuracy(features):  # upstream's GMM, with as many components as types in this small case
        return (
            TypeClustering(n_components=n_types, seeds=(42,), standardize=False, init_params="kmeans", reg_covar=1e-6)
            .fit(features, types)
            .accuracy_
        )

    ceiling, estimated, embedding_only = accuracy(truth), accuracy(learned), accuracy(learned[:, :2])
    assert ceiling >= estimated > embedding_only
    assert ceiling > 0.8 and embedding_only < 0.3


def test_clustering_control_metrics_names_and_definitions():
    metrics = clustering_control_metrics(0.4, 0.97)
    assert metrics["clustering_accuracy_embedding_only"].value == pytest.approx(0.4)
    assert metrics["clustering_accuracy_embedding_only"].definition == "upstream-clustering-accuracy-embedding"
    assert metrics["clustering_accuracy_true_parameters"].definition == "upstream-clustering-accuracy-true-parameters"


def test_principal_components_known_answers():
    rng = np.random.default_rng(0)
    direction = np.array([1.0, 2.0, -2.0, 0.0]) / 3.0
    line = rng.normal(0, 1, (200, 1)) * direction + 5.0  # all variance along one direction of d = 4
    scores, explained = principal_components(line)
    assert scores.shape == (200, 2)
    assert explained[0] == pytest.approx(1.0) and explained[1] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.abs(scores[:, 0]), np.abs((line - line.mean(axis=0)) @ direction), atol=1e-10)
    plane = rng.normal(0, 1, (300, 2)) * [3.0, 1.0]
    scores, explained = principal_components(plane)  # d = 2: a rotation, distances kept
    np.testing.assert_allclose(np.linalg.norm(scores, axis=1), np.linalg.norm(plane - plane.mean(axis=0), axis=1))
    assert explained.sum() == pytest.approx(1.0) and explained[0] > 0.8
    again, _ = principal_components(plane[::-1])
    np.testing.assert_allclose(again[::-1], scores, atol=1e-10)  # the same signs every time
    assert principal_components(rng.normal(size=(50, 1)))[0].shape == (50, 1)
