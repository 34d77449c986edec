"""Ground truth of the simulations: τ, V_rest per neuron and W per edge.

Taken from a trained flyvis network directory (default: the pretrained
``flow/0000/000``, shipped with the package in ``flygnn/data/groundtruth/``): per
type ``nodes_time_const`` (τ) and ``nodes_bias`` (V_rest), per (source type, target
type) ``edges_sign`` and ``edges_syn_strength``, per (type pair, du, dv)
``edges_syn_count`` stored as its log. An edge's weight is

    W_e = sign × exp(syn_count_raw) × syn_strength.

flyvis orders each parameter by first appearance of its group in the connectome
the model was compiled with (``_meta.yaml``: extent 15), so the group order is
rebuilt from that network and every edge of ours is matched to its group by name
and offset — never by position.

The checkpoint is a torch file; it is read with ``weights_only=True`` (no code
runs on load), and every tensor's length is checked against the connectome.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from flygnn.atomic import read_cached_arrays, write_cached_arrays
from flygnn.connectome import CONNECTOME_FILE, MAX_EXTENT, Network, cache_dir, load_network
from flygnn.errors import FlygnnError
from flygnn.project import enclosing_project_root, relative_to

DEFAULT_MODEL = "flow/0000/000"
CHECKPOINT = Path("chkpts") / "chkpt_00000"
# The default ground truth ships as package data (49 KB per checkpoint, MIT-licensed like
# flyvis; origin, licence and checksums in its README.md), so editable and wheel installs
# alike need no download.
SHIPPED_MODEL = ("data", "groundtruth", "flyvis-flow-0000-000")
REQUIRED_TENSORS = ("nodes_bias", "nodes_time_const", "edges_sign", "edges_syn_count", "edges_syn_strength")

# Synthetic ground truth: per-type τ and V_rest drawn in the ranges of the pretrained
# model (τ 0.0194–0.316 s, V_rest 0.007–0.795), weights sign × count × a per-pair strength.
SYNTHETIC_TAU_RANGE = (0.02, 0.3)
SYNTHETIC_V_REST_RANGE = (0.0, 0.8)


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """The parameters the simulator uses.

    tau: (N,) f4 time constant per neuron, seconds.
    v_rest: (N,) f4 resting potential per neuron.
    W: (E,) f4 weight per edge; edge e goes from source[e] to target[e].
    source: where it came from, never an absolute path (see ``describe_model_dir``;
        or "synthetic (seed=…)"); ``fingerprint()`` identifies the values.
    synthetic: True when not taken from a trained flyvis network.
    """

    tau: np.ndarray
    v_rest: np.ndarray
    W: np.ndarray
    source: str
    synthetic: bool

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for array in (self.tau, self.v_rest, self.W):
            digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        return digest.hexdigest()[:16]

    def summary(self) -> dict:
        W = self.W
        return {
            "source": self.source,
            "synthetic": self.synthetic,
            "W_min": float(W.min()),
            "W_max": float(W.max()),
            "edges_zero": int((W == 0).sum()),
            "edges_positive": int((W > 0).sum()),
            "edges_negative": int((W < 0).sum()),
            "tau_min": float(self.tau.min()),
            "tau_max": float(self.tau.max()),
            "v_rest_min": float(self.v_rest.min()),
            "v_rest_max": float(self.v_rest.max()),
            "fingerprint": self.fingerprint(),
        }


def _flyvis_results_dir() -> Path | None:
    """Where flyvis keeps downloaded models, without importing flyvis (slow)."""
    try:
        from importlib.util import find_spec

        spec = find_spec("flyvis")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    env = os.environ.get("FLYVIS_ROOT_DIR")
    root = Path(env) if env else Path(spec.origin).parent / "data"
    return root / "results"


def shipped_model_dir() -> Path:
    """The copy of ``flow/0000/000`` shipped inside the package (a flyvis network directory)."""
    shipped = resources.files("flygnn")
    for part in SHIPPED_MODEL:  # one at a time: Python 3.10's Traversable.joinpath takes a single name
        shipped = shipped.joinpath(part)
    return Path(str(shipped))


def describe_model_dir(model_dir: str | os.PathLike) -> str:
    """A name for a flyvis network directory that holds no absolute path.

    The shipped copy is "flyvis flow/0000/000 (shipped with flygnn)"; a model under
    flyvis' results directory is named by its place there ("flyvis flow/0000/001
    (flyvis download-pretrained)"); one inside a flygnn project by its path from the
    project root (the same from whichever folder the command runs); anything else by its
    last three path components (flyvis' ensemble/model).
    """
    model_dir = Path(model_dir).resolve()
    if model_dir == shipped_model_dir().resolve():
        return f"flyvis {DEFAULT_MODEL} (shipped with flygnn)"
    results = _flyvis_results_dir()
    if results is not None:
        inside = relative_to(model_dir, results.resolve())
        if inside is not None:
            return f"flyvis {inside} (flyvis download-pretrained)"
    project = enclosing_project_root(model_dir)
    if project is not None:
        inside = relative_to(model_dir, project)
        if inside is not None:
            return inside
    return "flyvis network …/" + "/".join(model_dir.parts[-3:])


def find_flyvis_model(path: str | os.PathLike | None = None) -> Path:
    """The flyvis network directory to take the ground truth from.

    Order: ``path`` if given; ``$FLYGNN_FLYVIS_MODEL``; the copy of ``flow/0000/000``
    shipped with the package; flyvis' results directory (``flyvis download-pretrained``)
    ``flow/0000/000``. Raises FlygnnError naming the places looked at when none is found.
    """
    if path is not None and str(path) != "":
        return Path(path)
    looked = []
    if os.environ.get("FLYGNN_FLYVIS_MODEL"):
        return Path(os.environ["FLYGNN_FLYVIS_MODEL"])
    looked.append("$FLYGNN_FLYVIS_MODEL (not set)")
    shipped = shipped_model_dir()
    if (shipped / CHECKPOINT).is_file():
        return shipped
    looked.append(f"the copy shipped with flygnn ({shipped}, missing)")
    results = _flyvis_results_dir()
    if results is not None:
        candidate = results / DEFAULT_MODEL
        if (candidate / CHECKPOINT).is_file():
            return candidate
        looked.append(str(candidate))
    raise FlygnnError(
        "no pretrained flyvis model found (looked at: " + "; ".join(looked) + "). "
        "Run `flyvis download-pretrained`, pass --flyvis-model DIR (a flyvis network directory "
        "such as .../results/flow/0000/000), or use --synthetic-groundtruth for a synthetic ground "
        "truth (labelled as synthetic in every output)."
    )


def _read_checkpoint(model_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    if not model_dir.is_dir():
        raise FlygnnError(
            f"flyvis model directory {model_dir} does not exist; pass an existing flyvis network directory."
        )
    meta_path = model_dir / "_meta.yaml"
    checkpoint = model_dir / CHECKPOINT
    if not checkpoint.is_file():
        candidates = sorted((model_dir / "chkpts").glob("chkpt_*")) if (model_dir / "chkpts").is_dir() else []
        if not candidates:
            raise FlygnnError(
                f"{model_dir} is not a flyvis network directory: no {CHECKPOINT} found. "
                "Point --flyvis-model at a directory like results/flow/0000/000."
            )
        checkpoint = candidates[0]
    try:
        meta = yaml.safe_load(meta_path.read_text()) if meta_path.is_file() else {}
    except yaml.YAMLError as exc:
        raise FlygnnError(f"{meta_path} is not valid YAML ({exc}); the flyvis model directory is corrupt.") from exc

    import pickle

    import torch

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise FlygnnError(
            f"cannot read the flyvis checkpoint {checkpoint} safely ({type(exc).__name__}: {exc}). "
            "It is corrupt or contains objects other than tensors; re-download it with "
            "`flyvis download-pretrained`."
        ) from exc
    network_state = state.get("network", state) if isinstance(state, dict) else None
    if not isinstance(network_state, dict):
        raise FlygnnError(f"{checkpoint} holds no network state dict; is it a flyvis checkpoint?")
    missing = [k for k in REQUIRED_TENSORS if k not in network_state]
    if missing:
        raise FlygnnError(f"{checkpoint} lacks the tensor(s) {missing}; it is not a flyvis network checkpoint.")
    tensors = {k: network_state[k].detach().cpu().numpy().astype(np.float64) for k in REQUIRED_TENSORS}
    return tensors, (meta or {})


def _compiled_extent(meta: dict) -> int:
    connectome = ((meta.get("config") or {}).get("network") or {}).get("connectome") or {}
    if connectome.get("file", CONNECTOME_FILE) != CONNECTOME_FILE:
        raise FlygnnError(f"the flyvis model was built on {connectome.get('file')}; flygnn supports {CONNECTOME_FILE}.")
    if connectome.get("n_syn_fill", 1) != 1:
        raise FlygnnError("the flyvis model uses n_syn_fill != 1; flygnn compiles with n_syn_fill = 1.")
    extent = connectome.get("extent", MAX_EXTENT)
    if not isinstance(extent, int) or not 1 <= extent <= MAX_EXTENT:
        raise FlygnnError(f"the flyvis model's connectome extent {extent!r} is not supported.")
    return extent


def _first_appearance(keys: np.ndarray) -> np.ndarray:
    """Unique rows of ``keys`` (n, k) in order of first appearance (pandas groupby sort=False)."""
    _, first = np.unique(keys, axis=0, return_index=True)
    return keys[np.sort(first)]


def _edge_keys(network: Network, with_offset: bool) -> np.ndarray:
    columns = [network.neuron_type[network.source], network.neuron_type[network.target]]
    if with_offset:
        columns += [network.edge_du, network.edge_dv]
    return np.stack(columns, axis=1)


def _lookup(group_keys: np.ndarray, edge_keys: np.ndarray, what: str) -> np.ndarray:
    index = {tuple(row): k for k, row in enumerate(group_keys.tolist())}
    try:
        return np.array([index[tuple(row)] for row in edge_keys.tolist()], dtype=np.int64)
    except KeyError as exc:
        raise FlygnnError(
            f"an edge of the network has no {what} parameter in the flyvis model (group {exc})."
        ) from None


def _cache_path(network: Network, model_dir: Path) -> Path | None:
    """Cache file for the mapped parameters: keyed by checkpoint bytes and network."""
    checkpoint = model_dir / CHECKPOINT
    if not checkpoint.is_file():
        return None
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]
    return cache_dir() / f"groundtruth-{digest}-{network.fingerprint()}.npz"


def ground_truth_from_flyvis(network: Network, model_dir: str | os.PathLike) -> GroundTruth:
    """τ, V_rest and W of ``network`` from a trained flyvis network directory.

    Mapping the parameters needs the extent-15 network (seconds); the result is
    cached per (checkpoint content, network).
    """
    model_dir = Path(model_dir)
    cached = _cache_path(network, model_dir)
    if cached is not None:
        truth = read_cached_arrays(
            cached,
            lambda data: GroundTruth(
                data["tau"], data["v_rest"], data["W"], describe_model_dir(model_dir), synthetic=False
            ),
        )
        if truth is not None:
            return truth
    truth = _map_flyvis_parameters(network, model_dir)
    if cached is not None:
        write_cached_arrays(cached, {"tau": truth.tau, "v_rest": truth.v_rest, "W": truth.W})
    return truth


def _map_flyvis_parameters(network: Network, model_dir: Path) -> GroundTruth:
    tensors, meta = _read_checkpoint(model_dir)
    reference = load_network(_compiled_extent(meta))  # the connectome the parameters were grouped on
    if reference.type_names != network.type_names:
        raise FlygnnError("the flyvis model's cell types differ from the network's; cannot map parameters.")

    node_groups = _first_appearance(reference.neuron_type[:, None])[:, 0]
    pair_groups = _first_appearance(_edge_keys(reference, with_offset=False))
    count_groups = _first_appearance(_edge_keys(reference, with_offset=True))
    expected = {
        "nodes_bias": len(node_groups),
        "nodes_time_const": len(node_groups),
        "edges_sign": len(pair_groups),
        "edges_syn_strength": len(pair_groups),
        "edges_syn_count": len(count_groups),
    }
    for name, length in expected.items():
        if tensors[name].shape != (length,):
            raise FlygnnError(
                f"{model_dir}: tensor {name} has shape {tensors[name].shape}, expected ({length},) "
                "for this connectome; the model was trained on another network."
            )

    type_to_group = np.empty(network.n_types, dtype=np.int64)
    type_to_group[node_groups] = np.arange(len(node_groups))
    node_group = type_to_group[network.neuron_type]
    pair = _lookup(pair_groups, _edge_keys(network, with_offset=False), "sign/strength")
    count = _lookup(count_groups, _edge_keys(network, with_offset=True), "synapse-count")

    # flyvis clamps the strength to be non-negative (SynapseCountScaling clamp: non_negative)
    strength = np.clip(tensors["edges_syn_strength"], 0.0, None)
    W = tensors["edges_sign"][pair] * np.exp(tensors["edges_syn_count"][count]) * strength[pair]
    return GroundTruth(
        tau=tensors["nodes_time_const"][node_group].astype(np.float32),
        v_rest=tensors["nodes_bias"][node_group].astype(np.float32),
        W=W.astype(np.float32),
        source=describe_model_dir(model_dir),
        synthetic=False,
    )


def synthetic_ground_truth(network: Network, seed: int = 0) -> GroundTruth:
    """A documented synthetic ground truth for use without a flyvis model.

    Per type: τ log-uniform in [0.02, 0.3] s and V_rest uniform in [0, 0.8]
    (heterogeneous across types, shared within a type, like flyvis). Per edge:
    W = connectome sign × connectome synapse count × a per type-pair strength drawn
    log-uniform in [0.002, 0.05]. Every output made from it is labelled synthetic.
    """
    rng = np.random.default_rng(seed)
    tau_low, tau_high = np.log(SYNTHETIC_TAU_RANGE)
    tau_type = np.exp(rng.uniform(tau_low, tau_high, size=network.n_types))
    v_rest_type = rng.uniform(*SYNTHETIC_V_REST_RANGE, size=network.n_types)
    pair_id = network.neuron_type[network.source] * network.n_types + network.neuron_type[network.target]
    strength_pair = np.exp(rng.uniform(np.log(0.002), np.log(0.05), size=network.n_types**2))
    W = network.flyvis_sign * network.flyvis_syn_count * strength_pair[pair_id]
    return GroundTruth(
        tau=tau_type[network.neuron_type].astype(np.float32),
        v_rest=v_rest_type[network.neuron_type].astype(np.float32),
        W=W.astype(np.float32),
        source=f"synthetic (seed={seed})",
        synthetic=True,
    )


def load_ground_truth(
    network: Network,
    flyvis_model: str | os.PathLike | None = None,
    synthetic: bool = False,
    seed: int = 0,
) -> GroundTruth:
    """The ground truth for ``network``: a flyvis model's, or synthetic if asked.

    Without ``synthetic`` and without a findable model this raises FlygnnError
    explaining both options; it never falls back to synthetic silently.
    """
    if synthetic:
        return synthetic_ground_truth(network, seed=seed)
    return ground_truth_from_flyvis(network, find_flyvis_model(flyvis_model))
