"""Convert a flyvis-gnn checkpoint and its dataset into a flygnn bundle.

flyvis-gnn saves ``best_model_with_*.pt``: a torch pickle of ``{"model_state_dict":
{...}, "optimizer_state_dict": {...}}`` whose model tensors are ``a`` (N, d), ``W``
(E, 1) and the MLPs ``g_phi.layers.*``/``f_theta.layers.*`` (older runs:
``lin_edge.*``/``lin_phi.*``). Its dataset folder (``graphs_data/fly/<name>/``) holds
``edge_index.pt`` (2, E) and the training frames ``x_list_train/`` (per-field zarr
arrays ``voltage.zarr``, ``stimulus.zarr``; legacy: ``x_list_train.npy`` of shape
(T, N, 9) with voltage in column 3 and stimulus in column 4).

The ``.pt`` files are read with ``torch.load(weights_only=True)``: tensors and plain
containers only, so a file that would run code when unpickled is refused. A flygnn
dataset (``flygnn simulate``) is accepted as the source of the activity statistics too.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from flygnn.errors import FlygnnError

if TYPE_CHECKING:
    from flygnn.connectome import Network

LEGACY_PREFIXES = {"lin_edge.": "g_phi.", "lin_phi.": "f_theta."}
_MODEL_KEY = re.compile(r"^(W|a|(g_phi|f_theta)\.layers\.\d+\.(weight|bias))$")
VOLTAGE_COLUMN, STIMULUS_COLUMN = 3, 4  # legacy (T, N, 9) layout


def load_torch_tensors(path: str | Path, what: str) -> Any:
    """``torch.load`` restricted to tensors and plain containers (never runs code)."""
    path = Path(path)
    if not path.is_file():
        raise FlygnnError(f"{what} {path} not found.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise FlygnnError(
            f"refusing to load {what} {path}: it contains Python objects beyond tensors, which could run code "
            f"when unpickled ({str(exc).splitlines()[0]}). Re-save it with plain tensors (state_dict) only."
        ) from exc
    except (RuntimeError, EOFError, ValueError) as exc:
        raise FlygnnError(f"cannot read {what} {path} ({exc}); is it a torch .pt file?") from exc


def read_upstream_state(path: str | Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The model tensors of a flyvis-gnn checkpoint under flygnn names, and the keys dropped.

    Legacy ``lin_edge.``/``lin_phi.`` become ``g_phi.``/``f_theta.``; ``W`` (E, 1) becomes (E,).
    """
    loaded = load_torch_tensors(path, "checkpoint")
    state = loaded.get("model_state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not state:
        raise FlygnnError(f"checkpoint {path}: expected a state dict (or {{'model_state_dict': ...}}), got {type(loaded).__name__}.")
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


def align_edges(W: torch.Tensor, edge_index: np.ndarray, network: Network, where: str) -> torch.Tensor:
    """Ŵ in the network's edge order (upstream may list the same edges in another order)."""
    edge_index = np.asarray(edge_index, dtype=np.int64)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise FlygnnError(f"{where}: edge_index must be (2, E), got {edge_index.shape}.")
    if edge_index.shape[1] != W.shape[0]:
        raise FlygnnError(f"{where}: edge_index has {edge_index.shape[1]} edges but W has {W.shape[0]}.")
    if edge_index.shape[1] != network.n_edges or edge_index.max(initial=0) >= network.n_neurons:
        raise FlygnnError(
            f"{where}: the checkpoint's network ({edge_index.shape[1]} edges) is not the flygnn network "
            f"(extent {network.extent}: {network.n_neurons} neurons, {network.n_edges} edges); pass --extent."
        )
    if np.array_equal(edge_index[0], network.source) and np.array_equal(edge_index[1], network.target):
        return W
    theirs = edge_index[1] * network.n_neurons + edge_index[0]
    ours = network.target * network.n_neurons + network.source
    order = np.argsort(theirs)
    position = np.searchsorted(theirs[order], ours)
    position = np.minimum(position, len(order) - 1)
    if not np.array_equal(theirs[order][position], ours):
        missing = int(np.sum(theirs[order][position] != ours))
        raise FlygnnError(
            f"{where}: {missing} of the network's edges are not in the checkpoint's edge_index; it was trained on "
            "another connectome."
        )
    return W[torch.from_numpy(order[position])]


class _UpstreamFrames:
    """Voltage and stimulus frames of an upstream dataset folder, read in chunks."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        per_field = folder / "x_list_train"
        legacy = folder / "x_list_train.npy"
        if (per_field / "voltage.zarr").exists():
            import zarr

            self._voltage = zarr.open_array(str(per_field / "voltage.zarr"), mode="r")
            self._stimulus = zarr.open_array(str(per_field / "stimulus.zarr"), mode="r")
            self.n_frames, self.n_neurons = (int(n) for n in self._voltage.shape)
            if tuple(self._stimulus.shape) != tuple(self._voltage.shape):
                raise FlygnnError(f"{per_field}: stimulus {self._stimulus.shape} and voltage {self._voltage.shape} differ.")
            self._legacy = None
        elif legacy.exists():
            self._legacy = np.load(legacy, mmap_mode="r", allow_pickle=False)
            if self._legacy.ndim != 3 or self._legacy.shape[2] < 5:
                raise FlygnnError(f"{legacy}: expected (T, N, 9) frames, got {self._legacy.shape}.")
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


def activity_from_frames(read, n_frames: int, n_neurons: int, k: int, seed: int, chunk: int = 1024) -> dict[str, np.ndarray]:
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
    overwrite: bool = False,
    activity_frames: int = 64,
    seed: int = 0,
) -> Path:
    """Write a bundle at ``out`` from a flyvis-gnn checkpoint and its dataset folder.

    ``dataset`` is the upstream dataset folder (with ``edge_index.pt`` and
    ``x_list_train``) or a flygnn dataset of the same network. Returns ``out``.
    """
    from flygnn.bundle import model_from_state, save_bundle
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

    if (dataset / "zarr.json").exists():  # a flygnn dataset: its edges are the network's by construction
        from flygnn.dataset import open_dataset

        ds = open_dataset(dataset)
        ds.check_network(network)
        edge_index = np.stack([ds.root["edges/source"][:], ds.root["edges/target"][:]])
        n_frames = ds.frames("train")
        read = lambda name, frames: np.asarray(ds.read("train", name, frames), dtype=np.float32)  # noqa: E731
        dataset_meta = {"path": str(dataset), "fingerprint": ds.fingerprint(), "kind": "flygnn"}
        n_neurons_data = ds.n_neurons
    else:
        edge_index = load_torch_tensors(dataset / "edge_index.pt", "edge index")
        edge_index = edge_index.numpy() if isinstance(edge_index, torch.Tensor) else np.asarray(edge_index)
        frames = _UpstreamFrames(dataset)
        n_frames, n_neurons_data, read = frames.n_frames, frames.n_neurons, frames.read
        dataset_meta = {"path": str(dataset), "fingerprint": None, "kind": "flyvis-gnn"}
    if n_neurons_data != network.n_neurons:
        raise FlygnnError(f"dataset {dataset} has {n_neurons_data} neurons; the network has {network.n_neurons}.")
    state["W"] = align_edges(state["W"], edge_index, network, f"checkpoint {checkpoint}")
    model = model_from_state(state, architecture, network, f"checkpoint {checkpoint}")
    activity = activity_from_frames(read, n_frames, network.n_neurons, activity_frames, seed)

    meta = {
        "condition": condition,
        "sigma": float(sigma),
        "training": {
            "preset": "upstream",
            "source": "flyvis-gnn checkpoint",
            "checkpoint": str(checkpoint),
            "dropped_keys": dropped,
            "iterations": None,
            "wall_time_s": None,
            "final_loss": None,
        },
        "dataset": dataset_meta,
        "groundtruth": {"source": None, "synthetic": False, "fingerprint": None},
        "recovery": None,
    }
    truth = _default_ground_truth(network)
    if truth is not None:
        from flygnn.train import score_bundle

        meta["groundtruth"] = {
            "source": str(truth.source), "synthetic": bool(truth.synthetic), "fingerprint": truth.fingerprint()
        }
        meta["recovery"] = score_bundle(model, activity, truth)
    return save_bundle(out, model, meta, activity, overwrite=overwrite)


def _default_ground_truth(network: Network) -> Any:
    """The default flyvis model's ground truth (what the analysis compares against), or None."""
    from flygnn.groundtruth import load_ground_truth

    try:
        return load_ground_truth(network)
    except FlygnnError:
        return None
