"""The network compiled by flyvis: known sizes, orders and caching."""

from __future__ import annotations

import numpy as np
import pytest

from flygnn.connectome import load_network
from flygnn.errors import FlygnnError


@pytest.mark.slow
def test_extent_8_has_the_published_size():
    network = load_network(8)
    assert network.n_neurons == 13_741
    assert network.n_types == 65
    assert network.n_edges == 434_112
    assert network.n_inputs == 1_736
    assert network.n_columns == 217
    np.testing.assert_array_equal(network.input_indices, np.arange(1_736))
    # 63 types tile all 217 columns, Lawf1 and Lawf2 only 35
    counts = np.bincount(network.neuron_type, minlength=65)
    assert sorted(set(counts.tolist())) == [35, 217]
    assert {network.type_names[k] for k in np.flatnonzero(counts == 35)} == {"Lawf1", "Lawf2"}


def test_small_network_structure(small_network):
    network = small_network
    assert network.type_names[:8] == ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8")
    assert network.n_columns == 19  # 1 + 6 + 12 columns within radius 2
    assert network.source.max() < network.n_neurons and network.target.max() < network.n_neurons
    # offsets are target − source columns
    np.testing.assert_array_equal(network.edge_du, network.neuron_u[network.target] - network.neuron_u[network.source])
    # every input neuron maps to the column it sits in
    columns = network.input_column
    np.testing.assert_array_equal(network.columns_u[columns], network.neuron_u[network.input_indices])
    np.testing.assert_array_equal(network.columns_v[columns], network.neuron_v[network.input_indices])


def test_cache_round_trip_gives_the_same_network(small_network, tmp_path):
    first = load_network(2, cache=tmp_path)
    second = load_network(2, cache=tmp_path)  # from the npz cache
    assert first.fingerprint() == second.fingerprint() == small_network.fingerprint()
    assert second.type_names == small_network.type_names


def test_corrupt_cache_is_rebuilt(tmp_path):
    load_network(1, cache=tmp_path)
    (cached,) = tmp_path.glob("network-extent1-*.npz")
    cached.write_bytes(b"not an npz")
    assert load_network(1, cache=tmp_path).n_neurons == 443


@pytest.mark.parametrize("keep", [0.5, 0.999], ids=["half", "all-but-the-end"])
def test_truncated_network_cache_is_recomputed(tmp_path, caplog, keep):
    load_network(1, cache=tmp_path)
    (cached,) = tmp_path.glob("network-extent1-*.npz")
    whole = cached.read_bytes()
    cached.write_bytes(whole[: int(len(whole) * keep)])
    with caplog.at_level("WARNING", logger="flygnn"):
        network = load_network(1, cache=tmp_path)
    assert (network.n_neurons, network.n_edges) == (443, 8174)
    assert load_network(1, cache=tmp_path).fingerprint() == network.fingerprint()  # the cache rewritten
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert cached.name in warning and "computing it again" in warning and "\n" not in warning
    assert cached.stat().st_size == len(whole)


@pytest.mark.parametrize("extent", [0, -1, 16, 2.5, "8", True])
def test_impossible_extent_is_refused(extent):
    with pytest.raises(FlygnnError, match="extent must be an integer from 1 to 15"):
        load_network(extent)


def test_fingerprint_differs_between_networks(tiny_network, small_network):
    assert tiny_network.fingerprint() != small_network.fingerprint()
