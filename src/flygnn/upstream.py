"""Convert a flyvis-gnn checkpoint and its dataset into a flygnn bundle.

flyvis-gnn saves ``best_model_with_*.pt``: a torch pickle of ``{"model_state_dict":
{...}, "optimizer_state_dict": {...}}`` whose model tensors are ``a`` (N, d), ``W``
(E, 1) and the MLPs ``g_phi.layers.*``/``f_theta.layers.*`` (older runs:
``lin_edge.*``/``lin_phi.*``). Its dataset folder (``graphs_data/fly/<name>/``) holds

- ``ode_params.pt``: ``{"tau_i": (N,), "V_i_rest": (N,), "edge_index": (2, E) int64,
  "W": (E,)}``, the graph and the ground truth the data were simulated with (legacy
  folders: ``edge_index.pt`` and, where present, ``taus.pt``, ``V_i_rest.pt``,
  ``weights.pt``);
- the training frames ``x_list_train/``: per-field zarr v2 arrays ``voltage.zarr`` and
  ``stimulus.zarr`` of shape (T, N) (legacy: ``x_list_train.npy`` of shape (T, N, 9)
  with voltage in column 3 and stimulus in column 4).

The edges are matched to the flygnn network by (source, target), whatever their order,
and the ground truth the folder carries must equal flygnn's for the same network
(``flygnn.groundtruth``), so the analysis scores the model against the parameters it
was trained on; a mismatch is refused, naming the quantity, how many neurons or edges
differ and by how much.

The ``.pt`` files are read with ``torch.load(weights_only=True)``: tensors and plain
containers only, so a file that would run code when unpickled is refused. A flygnn
dataset (``flygnn simulate``) is accepted as the source of the activity statistics too.
"""

from __future__ import annotations

import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from flygnn.errors import FlygnnError

if TYPE_CHECKING:
    from flygnn.connectome import Network
    from flygnn.groundtruth import GroundTruth

LEGACY_PREFIXES = {"lin_edge.": "g_phi.", "lin_phi.": "f_theta."}
_MODEL_KEY = re.compile(r"^(W|a|(g_phi|f_theta)\.layers\.\d+\.(weight|bias))$")
VOLTAGE_COLUMN, STIMULUS_COLUMN = 3, 4  # legacy (T, N, 9) layout
ODE_PARAMS_FILE = "ode_params.pt"
ODE_PARAMS_KEYS = ("tau_i", "V_i_rest", "edge_index", "W")
LEGACY_EDGE_INDEX_FILE = "edge_index.pt"
LEGACY_TRUTH_FILES = {"tau_i": "taus.pt", "V_i_rest": "V_i_rest.pt", "W": "weights.pt"}
# Upstream multiplies W = strength × count × sign in float32 torch, flygnn in float64 numpy:
# at extent 8 they differ by at most one float32 ulp on 16 % of the edges (measured), τ and
# V_rest not at all; anything beyond this tolerance is another ground truth.
GROUND_TRUTH_RTOL, GROUND_TRUTH_ATOL = 1e-5, 1e-7


def load_torch_tensors(path: str | Path, what: str) -> Any:
    """``torch.load`` restricted to tensors and plain containers (never runs code)."""
    path = Path(path)
    if not path.is_file():
        raise FlygnnError(f"{what} {path} not found.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        # a truncated zip archive ends in an OSError (EINVAL) from torch's reader, or in miniz's
        # paragraph of advice: the first sentence names the problem
        message = str(exc)
        if "weights only" not in message.lower():
            first = message.splitlines()[0].split(". ")[0].rstrip(".") if message.strip() else type(exc).__name__
            raise FlygnnError(
                f"cannot read {what} {path} ({first}); it is damaged or not a torch .pt file: copy it again "
                "from where it was saved."
            ) from exc
    # torch's own message advises loading the file unsafely: it is neither repeated nor chained
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", message)
    if found:
        raise FlygnnError(
            f"refusing to load {what} {path}: it contains Python objects beyond tensors (the first: "
            f"{found.group(1)}), which could run code when unpickled. Re-save it with plain tensors (a "
            "state_dict or a dict of tensors) only."
        )
    raise FlygnnError(
        f"refusing to load {what} {path}: it is not a file of plain tensors; it is damaged, or holds Python "
        "objects that could run code when unpickled. Re-save it with plain tensors (a state_dict or a dict of "
        "tensors) only."
    )


def read_upstream_state(path: str | Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The model tensors of a flyvis-gnn checkpoint under flygnn names, and the keys dropped.

    Legacy ``lin_edge.``/``lin_phi.`` become ``g_phi.``/``f_theta.``; ``W`` (E, 1) becomes (E,).
    """
    loaded = load_torch_tensors(path, "checkpoint")
    state = loaded.get("model_state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not state:
        raise FlygnnError(
            f"checkpoint {path}: expected a state dict (or {{'model_state_dict': ...}}), got {type(loaded).__name__}."
        )
    renamed: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    for key, value in state.items():
        name = str(key)
        for old, new in LEGACY_PREFIXES.items():
            if name.startswith(old):
                name = new + name[len(old) :]
        if _MODEL_KEY.match(name) and isinstance(value, torch.Tensor):
            renamed[name] = value.detach().to(torch.float32)
        else:
            dropped.append(str(key))
    for needed in ("W", "a", "g_phi.layers.0.weight", "f_theta.layers.0.weight"):
        if needed not in renamed:
            raise FlygnnError(f"checkpoint {path} has no tensor {needed!r}; is it a flyvis-gnn FlyVisGNN checkpoint?")
    W = renamed["W"]
    if W.ndim == 2 and W.shape[1] == 1:
        renamed["W"] = W[:, 0].contiguous()
    return renamed, dropped


def architecture_of(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Embedding dimension, hidden width and depth read off the tensors."""
    layers = {
        mlp: sorted(int(m.group(1)) for k in state if (m := re.match(rf"^{mlp}\.layers\.(\d+)\.weight$", k)))
        for mlp in ("g_phi", "f_theta")
    }
    hidden = {mlp: int(state[f"{mlp}.layers.0.weight"].shape[0]) for mlp in layers}
    if len(layers["g_phi"]) != len(layers["f_theta"]) or hidden["g_phi"] != hidden["f_theta"]:
        raise FlygnnError(
            f"g_phi ({len(layers['g_phi'])} layers, width {hidden['g_phi']}) and f_theta ({len(layers['f_theta'])} "
            f"layers, width {hidden['f_theta']}) differ; flygnn's model uses one depth and width for both."
        )
    return {
        "embedding_dim": int(state["a"].shape[1]),
        "hidden": hidden["g_phi"],
        "layers": len(layers["g_phi"]),
    }


@dataclass(frozen=True)
class UpstreamGraph:
    """The graph and ground truth an upstream dataset folder records, in upstream's edge order.

    edge_index: (2, E) int64; edge e goes from edge_index[0, e] to edge_index[1, e].
    tau: (N,) f4 time constant per neuron (upstream ``tau_i``), or None.
    v_rest: (N,) f4 resting potential per neuron (upstream ``V_i_rest``), or None.
    W: (E,) f4 weight per edge, or None. Only legacy folders may lack tau, v_rest, W.
    source: the file(s) read, for messages.
    """

    edge_index: np.ndarray
    tau: np.ndarray | None
    v_rest: np.ndarray | None
    W: np.ndarray | None
    source: str


def read_upstream_graph(folder: str | Path) -> UpstreamGraph:
    """The ``ode_params.pt`` of an upstream dataset folder (legacy: ``edge_index.pt`` & co.)."""
    folder = Path(folder)
    path = folder / ODE_PARAMS_FILE
    if path.is_file():
        loaded = load_torch_tensors(path, "ODE parameters")
        if not isinstance(loaded, dict):
            raise FlygnnError(
                f"{path}: expected a dict of tensors {list(ODE_PARAMS_KEYS)}, got {type(loaded).__name__}."
            )
        missing = [key for key in ODE_PARAMS_KEYS if loaded.get(key) is None]
        if missing:
            raise FlygnnError(
                f"{path} has no {missing} (it holds {sorted(map(str, loaded))}): it was written for another "
                f"ODE model. flygnn imports the graded-voltage flyvis ODE, whose {ODE_PARAMS_FILE} holds "
                f"{list(ODE_PARAMS_KEYS)}."
            )
        values = {key: loaded[key] for key in ODE_PARAMS_KEYS}
        source = str(path)
    elif (folder / LEGACY_EDGE_INDEX_FILE).is_file():
        values = {"edge_index": load_torch_tensors(folder / LEGACY_EDGE_INDEX_FILE, "edge index")}
        for key, name in LEGACY_TRUTH_FILES.items():
            values[key] = load_torch_tensors(folder / name, key) if (folder / name).is_file() else None
        read = [LEGACY_EDGE_INDEX_FILE] + [n for k, n in LEGACY_TRUTH_FILES.items() if values[k] is not None]
        source = f"{folder}/{{{','.join(read)}}}" if len(read) > 1 else str(folder / LEGACY_EDGE_INDEX_FILE)
    else:
        raise FlygnnError(
            f"{folder} has no {ODE_PARAMS_FILE} (flyvis-gnn's edge_index, tau_i, V_i_rest and W; legacy: "
            f"{LEGACY_EDGE_INDEX_FILE}). Pass the flyvis-gnn dataset folder graphs_data/fly/<dataset>/ the "
            "checkpoint was trained on."
        )
    edge_index = _as_array(values["edge_index"], "edge_index", source)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2 or edge_index.dtype.kind not in "iu":
        raise FlygnnError(f"{source}: edge_index must be (2, E) integers, got {edge_index.shape} {edge_index.dtype}.")
    truth = {}
    for key, shape in (("tau_i", "(N,)"), ("V_i_rest", "(N,)"), ("W", "(E,)")):
        array = None if values[key] is None else _as_array(values[key], key, source)
        if array is not None and array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]  # as the model's W, a legacy file may keep a trailing axis
        if array is not None and (array.ndim != 1 or array.dtype.kind != "f"):
            raise FlygnnError(f"{source}: {key} must be {shape} floats, got {array.shape} {array.dtype}.")
        truth[key] = None if array is None else array.astype(np.float32)
    if truth["W"] is not None and truth["W"].shape[0] != edge_index.shape[1]:
        raise FlygnnError(f"{source}: W has {truth['W'].shape[0]} edges but edge_index lists {edge_index.shape[1]}.")
    return UpstreamGraph(edge_index.astype(np.int64), truth["tau_i"], truth["V_i_rest"], truth["W"], source)


def _as_array(value: Any, key: str, where: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return (value.double() if value.is_floating_point() else value).numpy()  # numpy has no bfloat16
    if isinstance(value, np.ndarray):
        return value
    raise FlygnnError(f"{where}: {key} is a {type(value).__name__}, expected a tensor.")


def network_edge_order(edge_index: np.ndarray, network: Network, where: str) -> np.ndarray | None:
    """Indices that put upstream's edges in the network's order (None: already in it).

    Upstream may list the same edges in another order; ``W_upstream[order]`` is then
    in the network's order. An edge list that is not the network's is refused.
    """
    edge_index = np.asarray(edge_index, dtype=np.int64)
    outside = edge_index.min(initial=0) < 0 or edge_index.max(initial=0) >= network.n_neurons
    if edge_index.shape[1] != network.n_edges or outside:
        raise FlygnnError(
            f"{where}: edge_index ({edge_index.shape[1]} edges between neurons {edge_index.min(initial=0)}–"
            f"{edge_index.max(initial=0)}) is not the flygnn network (extent {network.extent}: {network.n_neurons} "
            f"neurons, {network.n_edges} edges). Pass --extent for the network the data were simulated on; "
            "data with edges added (upstream's n_extra_null_edges) or removed (edge_removal_ratio) cannot be "
            "imported."
        )
    if np.array_equal(edge_index[0], network.source) and np.array_equal(edge_index[1], network.target):
        return None
    theirs = edge_index[1] * network.n_neurons + edge_index[0]
    ours = network.target * network.n_neurons + network.source
    order = np.argsort(theirs, kind="stable")
    position = np.minimum(np.searchsorted(theirs[order], ours), len(order) - 1)
    found = theirs[order][position] == ours
    if not found.all():
        first = int(np.flatnonzero(~found)[0])
        raise FlygnnError(
            f"{where}: {int((~found).sum())} of the network's {network.n_edges} edges are not in its edge_index "
            f"(first: {network.source[first]} → {network.target[first]}); it was made on another connectome "
            "(or with edges added or removed)."
        )
    return order[position]


def ground_truth_differences(
    graph: UpstreamGraph, order: np.ndarray | None, truth: GroundTruth, network: Network
) -> list[str]:
    """What the folder's ground truth does not share with flygnn's (empty: they agree).

    One line per quantity that differs beyond float32 rounding: how many neurons or
    edges, and the largest difference with where it is.
    """
    differences = []
    for key, theirs, ours, unit in (
        ("tau_i", graph.tau, truth.tau, "neurons"),
        ("V_i_rest", graph.v_rest, truth.v_rest, "neurons"),
        ("W", graph.W, truth.W, "edges"),
    ):
        if theirs is None:
            continue
        if key == "W" and order is not None:
            theirs = theirs[order]
        if theirs.shape != ours.shape:
            differences.append(f"{key} has {theirs.shape[0]} {unit}, flygnn's ground truth {ours.shape[0]}")
            continue
        close = np.isclose(theirs, ours, rtol=GROUND_TRUTH_RTOL, atol=GROUND_TRUTH_ATOL)
        if close.all():
            continue
        gap = np.where(np.isfinite(theirs), np.abs(theirs.astype(np.float64) - ours), np.inf)
        worst = int(np.argmax(gap))
        if unit == "neurons":
            at = f"neuron {worst} ({network.type_names[network.neuron_type[worst]]})"
        else:
            at = f"edge {network.source[worst]} → {network.target[worst]}"
        differences.append(
            f"{key} differs on {int((~close).sum())} of {close.size} {unit} (largest |difference| "
            f"{gap[worst]:.4g} at {at}: {theirs[worst]:.6g} there, {ours[worst]:.6g} in flygnn's)"
        )
    return differences


class _UpstreamFrames:
    """Voltage and stimulus frames of an upstream dataset folder, read in chunks."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        per_field = folder / "x_list_train"
        legacy = folder / "x_list_train.npy"
        if (per_field / "voltage.zarr").exists():
            self._voltage = _open_frames(per_field / "voltage.zarr")
            self._stimulus = _open_frames(per_field / "stimulus.zarr")
            self.n_frames, self.n_neurons = (int(n) for n in self._voltage.shape)
            if tuple(self._stimulus.shape) != tuple(self._voltage.shape):
                raise FlygnnError(
                    f"{per_field}: stimulus {self._stimulus.shape} and voltage {self._voltage.shape} differ."
                )
            self._legacy = None
        elif legacy.exists():
            try:
                self._legacy = np.load(legacy, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:  # object arrays are refused: never unpickled
                raise FlygnnError(
                    f"{legacy}: cannot read it as an array ({exc}); it must hold (T, N, 9) float frames, as "
                    "flyvis-gnn saves them."
                ) from exc
            if self._legacy.ndim != 3 or self._legacy.shape[2] < 5 or self._legacy.dtype.kind != "f":
                raise FlygnnError(
                    f"{legacy}: expected (T, N, 9) float frames, got {self._legacy.shape} {self._legacy.dtype}."
                )
            self.n_frames, self.n_neurons = (int(n) for n in self._legacy.shape[:2])
        else:
            raise FlygnnError(
                f"{folder} holds no training frames (looked for x_list_train/voltage.zarr and x_list_train.npy)."
            )

    def read(self, name: str, frames: slice | np.ndarray) -> np.ndarray:
        if self._legacy is not None:
            column = VOLTAGE_COLUMN if name == "voltage" else STIMULUS_COLUMN
            return np.asarray(self._legacy[frames, :, column], dtype=np.float32)
        array = self._voltage if name == "voltage" else self._stimulus
        if isinstance(frames, slice):
            return np.asarray(array[frames], dtype=np.float32)
        return np.asarray(array.get_orthogonal_selection((np.asarray(frames), slice(None))), dtype=np.float32)


def _open_frames(path: Path) -> Any:
    """One (T, N) zarr array of upstream's ``x_list_train/`` (zarr v2, as tensorstore writes it)."""
    import zarr

    if not path.exists():
        raise FlygnnError(f"{path} not found; an upstream x_list_train/ holds voltage.zarr and stimulus.zarr.")
    try:
        array = zarr.open_array(str(path), mode="r")
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise FlygnnError(f"cannot read {path} as a zarr array ({exc}).") from exc
    if array.ndim != 2:
        raise FlygnnError(f"{path}: expected (T, N) frames, got shape {array.shape}.")
    return array


def activity_from_frames(
    read, n_frames: int, n_neurons: int, k: int, seed: int, chunk: int = 1024
) -> dict[str, np.ndarray]:
    """The bundle's activity from a frame reader ``read(name, frames) -> (len, N)``."""
    total = np.zeros(n_neurons)
    squares = np.zeros(n_neurons)
    for start in range(0, n_frames, chunk):
        block = read("voltage", slice(start, min(start + chunk, n_frames))).astype(np.float64)
        if not np.isfinite(block).all():
            raise FlygnnError(f"training voltages contain NaN or infinity (frames {start}–{start + len(block)}).")
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
    mean = total / n_frames
    std = np.sqrt(np.maximum(squares / n_frames - mean**2, 0.0))
    rng = np.random.default_rng([seed, 1])
    picked = np.sort(rng.choice(n_frames, size=min(k, n_frames), replace=False))
    return {
        "voltage_mean": mean.astype(np.float32),
        "voltage_std": std.astype(np.float32),
        "frames_voltage": read("voltage", picked),
        "frames_stimulus": read("stimulus", picked),
    }


def import_upstream(
    checkpoint: str | Path,
    dataset: str | Path,
    out: str | Path,
    *,
    condition: str,
    sigma: float,
    network: Network | None = None,
    ground_truth: GroundTruth | None = None,
    overwrite: bool = False,
    activity_frames: int = 64,
    seed: int = 0,
) -> Path:
    """Write a bundle at ``out`` from a flyvis-gnn checkpoint and its dataset folder.

    ``dataset`` is the upstream dataset folder (``ode_params.pt`` or legacy
    ``edge_index.pt``, and ``x_list_train``) or a flygnn dataset of the same network.
    ``ground_truth`` is what the bundle is scored against and what the folder's
    ``ode_params.pt`` must agree with (default: the default flyvis model's, when it is
    found; without one, neither happens and a warning says so). Returns ``out``.
    """
    from flygnn.bundle import bundle_meta, model_from_state, portable_path, save_bundle
    from flygnn.connectome import load_network

    checkpoint, dataset, out = Path(checkpoint), Path(dataset), Path(out)
    if out.exists() and not overwrite:
        raise FlygnnError(f"bundle {out} already exists; pass --overwrite to replace it.")
    if not dataset.exists():
        raise FlygnnError(f"dataset {dataset} not found; pass the checkpoint's dataset folder.")
    state, dropped = read_upstream_state(checkpoint)
    network = network if network is not None else load_network(extent=8)
    if state["a"].shape[0] != network.n_neurons:
        raise FlygnnError(
            f"checkpoint {checkpoint} has embeddings for {state['a'].shape[0]} neurons; the network (extent "
            f"{network.extent}) has {network.n_neurons}. Pass --extent for the network it was trained on."
        )
    architecture = {**architecture_of(state), "n_neurons": network.n_neurons, "n_edges": network.n_edges}
    truth = ground_truth if ground_truth is not None else _default_ground_truth(network)

    if (dataset / "zarr.json").exists():  # a flygnn dataset: its edges are the network's by construction
        from flygnn.dataset import open_dataset

        ds = open_dataset(dataset)
        ds.check_network(network)
        graph = None
        edge_index = np.stack([ds.values("edges/source"), ds.values("edges/target")])
        edges_from = str(dataset)
        n_frames = ds.frames("train")
        read = lambda name, frames: np.asarray(ds.read("train", name, frames), dtype=np.float32)  # noqa: E731
        dataset_meta: dict[str, str | None] = {
            "path": portable_path(dataset),
            "fingerprint": ds.fingerprint(),
            "kind": "flygnn",
        }
        n_neurons_data = ds.n_neurons
    else:
        graph = read_upstream_graph(dataset)
        edge_index, edges_from = graph.edge_index, graph.source
        frames = _UpstreamFrames(dataset)
        n_frames, n_neurons_data, read = frames.n_frames, frames.n_neurons, frames.read
        dataset_meta = {"path": portable_path(dataset), "fingerprint": None, "kind": "flyvis-gnn"}
    if n_neurons_data != network.n_neurons:
        raise FlygnnError(f"dataset {dataset} has {n_neurons_data} neurons; the network has {network.n_neurons}.")
    if edge_index.shape[1] != state["W"].shape[0]:
        raise FlygnnError(
            f"checkpoint {checkpoint} has {state['W'].shape[0]} edge weights but {edges_from} lists "
            f"{edge_index.shape[1]} edges; the checkpoint was not trained on this dataset."
        )
    order = network_edge_order(edge_index, network, edges_from)
    if graph is not None:
        _check_upstream_ground_truth(graph, order, truth, network)
    if order is not None:
        state["W"] = state["W"][torch.from_numpy(order)]
    model = model_from_state(state, architecture, network, f"checkpoint {checkpoint}")
    activity = activity_from_frames(read, n_frames, network.n_neurons, activity_frames, seed)

    training = {
        "preset": "upstream",
        "source": "flyvis-gnn checkpoint",
        "checkpoint": Path(checkpoint).name,
        "dropped_keys": dropped,
        "iterations": None,
        "wall_time_s": None,
        "final_loss": None,
    }
    recovery = None
    if truth is not None:
        from flygnn.analysis import recovery_metrics

        with torch.no_grad():
            recovery = recovery_metrics(model.eval(), dict(activity), truth)
    meta = bundle_meta(condition, sigma, training, dataset_meta, truth, recovery)
    return save_bundle(out, model, meta, activity, overwrite=overwrite)


def _check_upstream_ground_truth(
    graph: UpstreamGraph, order: np.ndarray | None, truth: GroundTruth | None, network: Network
) -> None:
    """Refuse a folder whose τ, V_rest or W are not flygnn's ground truth for ``network``."""
    if truth is None:
        warnings.warn(
            f"no flyvis model found: {graph.source} is not checked against flygnn's ground truth and the bundle "
            "is imported without recovery scores. Pass --flyvis-model DIR (or set $FLYGNN_FLYVIS_MODEL) to do both.",
            stacklevel=3,
        )
        return
    differences = ground_truth_differences(graph, order, truth, network)
    if differences:
        raise FlygnnError(
            f"{graph.source} does not hold flygnn's ground truth ({truth.source}, extent {network.extent}): "
            + "; ".join(differences)
            + ". The data were simulated with other parameters (another flyvis model, or ablated edges), so the "
            "bundle would be scored against the wrong truth; pass --flyvis-model DIR for the flyvis model the "
            "data were simulated from."
        )


def _default_ground_truth(network: Network) -> Any:
    """The default flyvis model's ground truth (what the analysis compares against), or None."""
    from flygnn.groundtruth import load_ground_truth

    try:
        return load_ground_truth(network)
    except FlygnnError:
        return None
