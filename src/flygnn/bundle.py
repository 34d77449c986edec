"""Checkpoint bundles: a trained GNN as a folder that is safe to load and small to commit.

    <bundle>/model.safetensors     W (E,), a (N, d), g_phi.layers.*, f_theta.layers.*
    <bundle>/bundle.json           format, condition, σ, architecture, training, dataset,
                                   ground truth, library versions, recovery
    <bundle>/activity.safetensors  voltage_mean, voltage_std (N,) over the training frames;
                                   frames_voltage, frames_stimulus (K, N) sampled frames

Beside them, not part of its fingerprint (they do not change the model): its resumable
``training-state/``, ``training-history.csv`` and the loss figure ``training-loss.png``/``.pdf``
(see :mod:`flygnn.stages.train`).

Loading never unpickles anything (safetensors and JSON only) and checks every tensor
against the network the bundle was trained on, so a bundle for another network, a
truncated file or NaN weights are refused with a message naming the problem.

This module is the one home of the bundle contract: every file name in a bundle, the metadata
(:func:`bundle_meta`, :func:`read_meta`), the activity keys and their check, and the
one fingerprint. It imports torch only inside the functions that load or save a model,
so the workflow and the report can import the contract cheaply.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import Field

from flygnn.atomic import atomic_directory, atomic_path, write_json
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout, relative_to
from flygnn.schema import Integer, Number, Open, validated

if TYPE_CHECKING:
    import torch

    from flygnn.connectome import Network
    from flygnn.groundtruth import GroundTruth
    from flygnn.model import FlyVisGNN

FORMAT = "flygnn-bundle/1"
MODEL_FILE = "model.safetensors"
META_FILE = "bundle.json"
ACTIVITY_FILE = "activity.safetensors"
BUNDLE_FILES = (MODEL_FILE, META_FILE, ACTIVITY_FILE)
# beside them, written by the training and read by the report and the workflow
STATE_FOLDER = "training-state"  # the resumable training state (flygnn.train.state)
HISTORY_FILE = "training-history.csv"  # loss terms, and recovery scores where scored (flygnn.train.history)
LOSS_FIGURE_STEM = "training-loss"  # the loss figure, saved as .png and .pdf
LOSS_FIGURE = f"{LOSS_FIGURE_STEM}.png"  # the one the book shows
ACTIVITY_KEYS = ("voltage_mean", "voltage_std", "frames_voltage", "frames_stimulus")


# A model's size, far above the published ones (d = 2 to 4, 80 hidden units, 3 layers) and
# far below what a machine holds: a typo (hidden: 10**12) is refused before anything is
# allocated, by the presets' schema and by bundle.json's.
MAX_EMBEDDING_DIM, MAX_HIDDEN, MAX_LAYERS = 64, 4096, 16
EmbeddingDim = Annotated[Integer, Field(ge=1, le=MAX_EMBEDDING_DIM)]
Hidden = Annotated[Integer, Field(ge=1, le=MAX_HIDDEN)]
Layers = Annotated[Integer, Field(ge=1, le=MAX_LAYERS)]
NonNegative = Annotated[Number, Field(ge=0)]


class ArchitectureRecord(Open):
    n_neurons: Annotated[Integer, Field(ge=1)] = Field(description="the network's neuron count, an integer >= 1")
    n_edges: Annotated[Integer, Field(ge=1)] = Field(description="the network's edge count, an integer >= 1")
    embedding_dim: EmbeddingDim = Field(
        description=f"the embedding dimension d, an integer from 1 to {MAX_EMBEDDING_DIM}"
    )
    hidden: Hidden = Field(description=f"the MLPs' hidden width, an integer from 1 to {MAX_HIDDEN}")
    layers: Layers = Field(description=f"the MLPs' depth, an integer from 1 to {MAX_LAYERS}")
    W_init_scale: Annotated[Number, Field(gt=0)] = Field(default=1.0, description="a number > 0")
    extent: Annotated[Integer, Field(ge=1)] | None = Field(default=None, description="the network's extent, >= 1")
    network_fingerprint: str | None = Field(default=None, description="the network's fingerprint, a string")


class TrainingLegRecord(Open):
    wall_time_s: NonNegative | None = Field(default=None, description="the leg's training seconds, a number >= 0")
    threads: Annotated[Integer, Field(ge=1)] | None = Field(default=None, description="an integer >= 1")


class TrainingRecord(Open):
    legs: list[TrainingLegRecord] = Field(default=[], description="a list of the training legs (mappings)")
    wall_time_s: NonNegative | None = Field(default=None, description="the training seconds, a number >= 0")
    iterations: Annotated[Integer, Field(ge=0)] | None = Field(default=None, description="an integer >= 0")


class DatasetRecord(Open):
    path: str | None = Field(default=None, description="the dataset's path, a string")
    fingerprint: str | None = Field(default=None, description="the dataset's fingerprint, a string")


class GroundTruthRecord(Open):
    source: str | None = Field(default=None, description="the ground truth's name, a string or null")
    synthetic: bool = Field(default=False, description="true or false")
    fingerprint: str | None = Field(default=None, description="the ground truth's fingerprint, a string or null")


class BundleRecord(Open):
    """a mapping with format, sigma, architecture, training, dataset, groundtruth and recovery"""

    condition: str = Field(default="", description="the condition's name, a string")
    sigma: NonNegative = Field(description="the noise level σ it was trained at, a number >= 0")
    architecture: ArchitectureRecord = Field(
        description="a mapping with n_neurons, n_edges, embedding_dim, hidden and layers"
    )
    training: TrainingRecord = Field(
        default_factory=TrainingRecord, description="a mapping: how the model came about (preset, legs, ...)"
    )
    dataset: DatasetRecord | None = Field(default=None, description="a mapping with path and fingerprint, or null")
    groundtruth: GroundTruthRecord = Field(
        default_factory=GroundTruthRecord,
        description="a mapping with source, synthetic and fingerprint (source: null when there is none)",
    )
    recovery: dict[str, Number | None] | None = Field(
        default=None, description="a mapping from metric name to score, or null"
    )


@dataclass
class Bundle:
    """A loaded bundle: the model (eval mode, CPU), its metadata and activity statistics."""

    path: Path
    meta: dict[str, Any]
    model: FlyVisGNN
    activity: dict[str, np.ndarray]

    @property
    def condition(self) -> str:
        return str(self.meta.get("condition", ""))

    @property
    def sigma(self) -> float:
        return float(self.meta["sigma"])

    def fingerprint(self) -> str:
        """The bundle's fingerprint (:func:`bundle_fingerprint`): identifies this exact model."""
        return bundle_fingerprint(self.path)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_fingerprint(path: str | Path) -> str:
    """sha256 over the names and contents of the three bundle files, in a fixed order.

    The one name of a bundle everywhere (metrics.json, manifest.json, caches): cheap (no
    model loading) and content-based, so a bundle re-written with the same bytes keeps it.
    """
    digest = hashlib.sha256()
    for name in BUNDLE_FILES:
        digest.update(name.encode())
        digest.update(file_sha256(Path(path) / name).encode())
    return digest.hexdigest()


def portable_path(path: str | Path, root: Path | None = None) -> str:
    """A path as bundle.json records it: relative to the root of the project (``root``, or the
    one that contains the cwd) when inside it (``ProjectLayout.training_dataset`` reads it from
    there), else to the cwd when inside it, else only its last three parts — never an absolute
    path of this machine."""
    root = root if root is not None else ProjectLayout.find(required=False).root
    for base in (root, Path.cwd().resolve()):
        inside = relative_to(path, base) if base is not None else None
        if inside is not None:
            return inside
    return ".../" + "/".join(Path(os.path.abspath(path)).parts[-3:])


def groundtruth_record(truth: GroundTruth | None) -> dict[str, Any]:
    """How bundle.json names the ground truth a model is scored against: by name and fingerprint."""
    if truth is None:
        return {"source": None, "synthetic": False, "fingerprint": None}
    source = str(truth.source)
    if Path(source).is_absolute():  # e.g. read back from a dataset simulated with an explicit path
        source = portable_path(source)
    return {"source": source, "synthetic": bool(truth.synthetic), "fingerprint": truth.fingerprint()}


def bundle_meta(
    condition: str,
    sigma: float,
    training: Mapping[str, Any],
    dataset: Mapping[str, Any] | None,
    groundtruth: GroundTruth | None,
    recovery: Mapping[str, float] | None,
) -> dict[str, Any]:
    """The metadata of a bundle, as :func:`save_bundle` takes it (format, architecture and
    versions are added there). ``training`` describes how the model came about (the trainer's
    config and legs, or the upstream checkpoint it was imported from)."""
    return {
        "condition": condition,
        "sigma": float(sigma),
        "training": dict(training),
        "dataset": None if dataset is None else dict(dataset),
        "groundtruth": groundtruth_record(groundtruth),
        "recovery": None if recovery is None else dict(recovery),
    }


def library_versions() -> dict[str, str]:
    """Versions of flygnn and the libraries that shape a trained model."""
    from importlib.metadata import PackageNotFoundError, version

    import flygnn

    versions = {"flygnn": flygnn.__version__}
    for package in ("torch", "numpy", "safetensors", "flyvis"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _non_finite_tensors(tensors: Mapping[str, Any]) -> list[str]:
    bad = []
    for name, value in tensors.items():
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            bad.append(name)
    return bad


def check_activity(
    activity: Mapping[str, np.ndarray], n_neurons: int, where: str, dtype: type = np.float32
) -> dict[str, np.ndarray]:
    """The activity statistics checked against ``n_neurons``: (N,) voltage_mean and voltage_std,
    (K, N) frames_voltage and frames_stimulus with the same K; contiguous ``dtype`` arrays (float32
    as stored). FlygnnError naming the tensor otherwise."""
    missing = [k for k in ACTIVITY_KEYS if k not in activity]
    if missing:
        raise FlygnnError(f"{where}: activity is missing {missing}; expected {list(ACTIVITY_KEYS)}.")
    checked = {}
    for key in ACTIVITY_KEYS:
        array: np.ndarray = np.asarray(activity[key], dtype=dtype)
        expected = "(N,)" if key.startswith("voltage") else "(K, N)"
        ok = (
            array.shape == (n_neurons,)
            if key.startswith("voltage")
            else (array.ndim == 2 and array.shape[1] == n_neurons)
        )
        if not ok:
            raise FlygnnError(
                f"{where}: activity tensor {key!r} has shape {array.shape}, expected {expected} with N = {n_neurons} "
                "(the model's neurons): the activity belongs to another network."
            )
        checked[key] = np.ascontiguousarray(array)
    if checked["frames_voltage"].shape != checked["frames_stimulus"].shape:
        raise FlygnnError(
            f"{where}: frames_voltage {checked['frames_voltage'].shape} and frames_stimulus "
            f"{checked['frames_stimulus'].shape} must have the same shape."
        )
    return checked


def save_bundle(
    path: str | Path,
    model: FlyVisGNN,
    meta: Mapping[str, Any],
    activity: Mapping[str, np.ndarray],
    *,
    overwrite: bool = False,
    extra_files: Callable[[Path], None] | None = None,
) -> Path:
    """Write a bundle folder atomically (complete or not at all).

    ``meta`` holds condition, sigma, training, dataset, groundtruth, recovery; the
    format, architecture and library versions are filled in here from ``model``.
    ``extra_files(folder)`` may add files (loss log, figures) before the folder is
    moved into place. Refuses weights or activity that contain NaN or infinity.
    """
    path = Path(path)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    bad = _non_finite_tensors(state)
    if bad:
        raise FlygnnError(f"refusing to write bundle {path}: tensor(s) {bad} contain NaN or infinity.")
    checked_activity = check_activity(activity, model.n_neurons, f"bundle {path}")
    bad = _non_finite_tensors(checked_activity)
    if bad:
        raise FlygnnError(f"refusing to write bundle {path}: activity {bad} contain NaN or infinity.")
    if "sigma" not in meta:
        raise FlygnnError("bundle metadata needs 'sigma'.")
    document = {"format": FORMAT, **dict(meta), "architecture": model.architecture(), "versions": library_versions()}

    from safetensors.numpy import save_file as save_numpy
    from safetensors.torch import save_file as save_torch

    with atomic_directory(path, overwrite=overwrite) as tmp:
        # through atomic_path for the mode: safetensors would leave them private (0600)
        with atomic_path(tmp / MODEL_FILE) as part:
            save_torch(state, str(part), metadata={"format": FORMAT})
        with atomic_path(tmp / ACTIVITY_FILE) as part:
            save_numpy(checked_activity, str(part), metadata={"format": FORMAT})
        write_json(tmp / META_FILE, _json_safe(document))
        if extra_files is not None:
            extra_files(tmp)
    return path


def _json_safe(value: Any) -> Any:
    """Plain JSON types; non-finite floats become null (JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def read_meta(path: str | Path, shown: str | None = None) -> dict[str, Any]:
    """``bundle.json`` of the bundle at ``path``, every field flygnn reads validated (:class:`BundleRecord`).

    ``shown``: how messages name the folder (e.g. relative to the project); default ``path``.
    """
    path = Path(path)
    shown = shown or str(path)
    meta_file = f"{shown}/{META_FILE}"
    if not path.is_dir():
        raise FlygnnError(
            f"no checkpoint bundle at {shown}; train one with `flygnn train` or convert one with "
            "`flygnn import-upstream`."
        )
    missing = [name for name in BUNDLE_FILES if not (path / name).is_file()]
    if missing:
        raise FlygnnError(f"bundle {shown} is incomplete: missing {missing} (a bundle holds {list(BUNDLE_FILES)}).")
    try:
        meta = json.loads((path / META_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FlygnnError(f"{meta_file} is not valid JSON ({exc}); the bundle is damaged.") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise FlygnnError(f"{meta_file}: format {found!r} is not {FORMAT!r}; not a flygnn bundle.")
    # every field flygnn reads, checked before any of it is used (a model built, a number shown);
    # the numbers the model is built from as numbers, should a hand have written "5e-1"
    record = validated(BundleRecord, meta, meta_file)
    meta["sigma"] = record.sigma
    meta["architecture"] = record.architecture.model_dump(exclude_unset=True)
    return meta


def _network_for(architecture: Mapping[str, Any], network: Network | None, where: str) -> Network:
    from flygnn.connectome import load_network

    if network is None:
        extent = architecture.get("extent")
        if extent is None:
            raise FlygnnError(f"{where}: the bundle does not record its network's extent; pass the network explicitly.")
        network = load_network(extent=int(extent))
    recorded = architecture.get("network_fingerprint")
    sizes_differ = (network.n_neurons, network.n_edges) != (architecture["n_neurons"], architecture["n_edges"])
    if sizes_differ or (recorded and recorded != network.fingerprint()):
        raise FlygnnError(
            f"{where} was trained on another network: it has {architecture['n_neurons']} neurons, "
            f"{architecture['n_edges']} edges (extent {architecture.get('extent')}, fingerprint {recorded}), "
            f"the network given has {network.n_neurons} neurons, {network.n_edges} edges (extent "
            f"{network.extent}, fingerprint {network.fingerprint()}). Use the network the bundle was trained on."
        )
    return network


def model_from_state(
    state: Mapping[str, torch.Tensor], architecture: Mapping[str, Any], network: Network, where: str
) -> FlyVisGNN:
    """Build the model of ``architecture`` on ``network`` and load ``state`` into it, checked."""
    import torch

    from flygnn.model import FlyVisGNN, check_state_dict_shapes

    model = FlyVisGNN.from_network(
        network,
        embedding_dim=int(architecture["embedding_dim"]),
        hidden=int(architecture["hidden"]),
        layers=int(architecture["layers"]),
        W_init_scale=float(architecture.get("W_init_scale", 1.0)),
    )
    check_state_dict_shapes(dict(state), model, where)
    bad = _non_finite_tensors(state)
    if bad:
        raise FlygnnError(f"{where}: tensor(s) {bad} contain NaN or infinity; the model is unusable.")
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    return model.eval()


def load_bundle(path: str | Path, network: Network | None = None) -> Bundle:
    """Load and validate a bundle (model on CPU in eval mode).

    Without ``network`` the network of the recorded extent is loaded and checked
    against the recorded fingerprint.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file as load_numpy
    from safetensors.torch import load_file as load_torch

    path = Path(path)
    meta = read_meta(path)
    where = f"bundle {path}"
    network = _network_for(meta["architecture"], network, where)
    try:
        state = load_torch(str(path / MODEL_FILE))
        activity = load_numpy(str(path / ACTIVITY_FILE))
    except (SafetensorError, OSError, ValueError) as exc:
        raise FlygnnError(
            f"{where}: cannot read its safetensors files ({exc}); the bundle is damaged or not a bundle "
            "(flygnn never loads pickled checkpoints here)."
        ) from exc
    model = model_from_state(state, meta["architecture"], network, f"{path / MODEL_FILE}")
    checked = check_activity(activity, model.n_neurons, f"{path / ACTIVITY_FILE}")
    return Bundle(path=path, meta=meta, model=model, activity=checked)
