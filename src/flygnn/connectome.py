"""The fly visual system's network, compiled by flyvis from its connectome.

flyvis places cell types on a hexagonal lattice of columns (radius ``extent``)
and connects them by the average filters of ``fib25-fib19_v2.2.json``. Compiling
takes ~11 s at extent 8 (plus ~10 s to import flyvis), so the arrays are cached
as an ``.npz`` keyed by extent, connectome file hash and flyvis version.

Neuron order is flyvis' (types in file order, columns u-major); edge order is as
flyvis emits it. Type names are the truth; indices are positions in
``Network.type_names`` (flyvis parameter order, R1 = 0).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from flygnn.atomic import read_cached_arrays, write_cached_arrays
from flygnn.errors import FlygnnError

CONNECTOME_FILE = "fib25-fib19_v2.2.json"
INPUT_TYPES = ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8")
MAX_EXTENT = 15  # the largest lattice the connectome spec (and flyvis' pretrained models) use
CACHE_FORMAT = 1


def cache_dir() -> Path:
    """Where compiled networks are cached: ``$FLYGNN_CACHE_DIR`` or ``~/.cache/flygnn``."""
    return Path(os.environ.get("FLYGNN_CACHE_DIR", Path.home() / ".cache" / "flygnn"))


@dataclass(frozen=True, eq=False)
class Network:
    """A compiled network: neurons on hexagonal columns and directed edges.

    Attributes (N neurons, E edges):
        extent: lattice radius in columns (8: 217 columns).
        type_names: (n_types,) cell-type names in flyvis parameter order.
        neuron_type: (N,) index into ``type_names``.
        neuron_u, neuron_v: (N,) hexagonal column coordinates.
        source: (E,) presynaptic neuron j of each edge.
        target: (E,) postsynaptic neuron i of each edge.
        edge_du, edge_dv: (E,) column offset target − source.
        flyvis_sign: (E,) ±1, the connectome's synapse sign.
        flyvis_syn_count: (E,) the connectome's average synapse count.
    """

    extent: int
    type_names: tuple[str, ...]
    neuron_type: np.ndarray
    neuron_u: np.ndarray
    neuron_v: np.ndarray
    source: np.ndarray
    target: np.ndarray
    edge_du: np.ndarray
    edge_dv: np.ndarray
    flyvis_sign: np.ndarray
    flyvis_syn_count: np.ndarray

    @property
    def n_neurons(self) -> int:
        return int(self.neuron_type.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.source.shape[0])

    @property
    def n_types(self) -> int:
        return len(self.type_names)

    @property
    def input_indices(self) -> np.ndarray:
        """(n_inputs,) the photoreceptors R1–R8, ascending (0..1735 at extent 8)."""
        input_types = [self.type_names.index(t) for t in INPUT_TYPES if t in self.type_names]
        return np.flatnonzero(np.isin(self.neuron_type, input_types))

    @property
    def n_inputs(self) -> int:
        return int(self.input_indices.shape[0])

    @property
    def columns_u(self) -> np.ndarray:
        """(n_columns,) u of the lattice columns, in the order R1 visits them."""
        return self.neuron_u[self.neuron_type == self.type_names.index("R1")]

    @property
    def columns_v(self) -> np.ndarray:
        return self.neuron_v[self.neuron_type == self.type_names.index("R1")]

    @property
    def n_columns(self) -> int:
        return int(self.columns_u.shape[0])

    @property
    def input_column(self) -> np.ndarray:
        """(n_inputs,) index into the columns of each input neuron."""
        column_of = {(int(u), int(v)): k for k, (u, v) in enumerate(zip(self.columns_u, self.columns_v, strict=False))}
        inputs = self.input_indices
        return np.array(
            [column_of[(int(u), int(v))] for u, v in zip(self.neuron_u[inputs], self.neuron_v[inputs], strict=False)]
        )

    def fingerprint(self) -> str:
        """A short hash identifying the network's structure (extent, types, edges)."""
        digest = hashlib.sha256()
        digest.update(f"extent={self.extent};types={','.join(self.type_names)}".encode())
        for array in (self.neuron_type, self.source, self.target):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        return digest.hexdigest()[:16]

    def summary(self) -> dict:
        return {
            "extent": self.extent,
            "neurons": self.n_neurons,
            "edges": self.n_edges,
            "types": self.n_types,
            "inputs": self.n_inputs,
            "columns": self.n_columns,
            "fingerprint": self.fingerprint(),
        }


def _connectome_path() -> Path:
    # find the file without importing flyvis (which imports torch: 10+ s)
    from importlib.util import find_spec

    spec = find_spec("flyvis")
    if spec is None or not spec.submodule_search_locations:
        raise FlygnnError("flyvis is not installed; install flygnn with its dependencies (pip install -e .).")
    return Path(spec.submodule_search_locations[0]) / "connectome" / CONNECTOME_FILE


def _cache_file(extent: int, directory: Path) -> Path:
    from importlib.metadata import version

    spec_hash = hashlib.sha256(_connectome_path().read_bytes()).hexdigest()[:12]
    return directory / f"network-extent{extent}-{spec_hash}-flyvis{version('flyvis')}-v{CACHE_FORMAT}.npz"


def _compile_with_flyvis(extent: int) -> Network:
    from flyvis import ConnectomeFromAvgFilters

    connectome = ConnectomeFromAvgFilters(file=CONNECTOME_FILE, extent=extent, n_syn_fill=1)
    type_names = tuple(t.decode() for t in connectome.unique_cell_types[:])
    nodes, edges = connectome.nodes, connectome.edges
    type_of = {name.encode(): k for k, name in enumerate(type_names)}
    neuron_type = np.array([type_of[t] for t in nodes.type[:]], dtype=np.int64)
    index = nodes.index[:]
    if not np.array_equal(index, np.arange(index.shape[0])):
        raise FlygnnError("flyvis returned neurons out of order; this flyvis version is not supported.")
    return Network(
        extent=extent,
        type_names=type_names,
        neuron_type=neuron_type,
        neuron_u=nodes.u[:].astype(np.int64),
        neuron_v=nodes.v[:].astype(np.int64),
        source=edges.source_index[:].astype(np.int64),
        target=edges.target_index[:].astype(np.int64),
        edge_du=edges.du[:].astype(np.int64),
        edge_dv=edges.dv[:].astype(np.int64),
        flyvis_sign=edges.sign[:].astype(np.float32),
        flyvis_syn_count=edges.n_syn[:].astype(np.float32),
    )


def _arrays(network: Network) -> dict[str, np.ndarray]:
    arrays = {f.name: getattr(network, f.name) for f in fields(Network) if f.name not in ("extent", "type_names")}
    return {"extent": np.array(network.extent), "type_names": np.array(network.type_names), **arrays}


def _from_arrays(data: dict[str, np.ndarray]) -> Network:
    values = {f.name: data[f.name] for f in fields(Network) if f.name not in ("extent", "type_names")}
    return Network(extent=int(data["extent"]), type_names=tuple(str(t) for t in data["type_names"]), **values)


def load_network(extent: int = 8, cache: Path | None = None) -> Network:
    """The network of radius ``extent`` columns (8: 13,741 neurons, 434,112 edges).

    Compiled by flyvis on first use and cached under ``cache`` (default
    :func:`cache_dir`); a corrupt cache file is recompiled.
    """
    if isinstance(extent, bool) or not isinstance(extent, (int, np.integer)) or not 1 <= extent <= MAX_EXTENT:
        raise FlygnnError(
            f"extent must be an integer from 1 to {MAX_EXTENT} (columns of lattice radius), got {extent!r}; "
            "the paper uses 8."
        )
    extent = int(extent)
    path = _cache_file(extent, cache if cache is not None else cache_dir())
    cached = read_cached_arrays(path, _from_arrays)
    if cached is not None:
        return cached
    network = _compile_with_flyvis(extent)
    write_cached_arrays(path, _arrays(network))
    return network
