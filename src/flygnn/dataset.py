"""Simulated datasets on disk: one zarr v3 group per condition (docs/design.md, section 3).

Layout (T frames, N neurons, E edges)::

    train/voltage, train/stimulus, train/target   (T, N) f4
    test/...                                       (T_test, N) f4
    neurons/type                                   (N,) i8  index into attrs["type_names"]
    edges/source, edges/target                     (E,) i8
    edges/sign, edges/syn_count                    (E,) f4  (connectome sign and count)
    groundtruth/tau, groundtruth/v_rest (N,), groundtruth/W (E,)   f4
    statistics/voltage_mean, statistics/voltage_std               (N,) f4 over train

A dataset is written into a temporary directory and renamed into place only when
complete, so a dataset that exists is complete; ``attrs["complete"]`` is checked too.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from flygnn.connectome import Network
from flygnn.errors import FlygnnError
from flygnn.groundtruth import GroundTruth

FORMAT = "flygnn-dataset/1"
SPLITS = ("train", "test")
FRAME_ARRAYS = ("voltage", "stimulus", "target")
CHUNK_FRAMES = 128
# noisy float32 voltages barely compress (ratio ~1.17 either way): lz4 is ~6x faster than zstd
COMPRESSOR = BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")


def _array(root: zarr.Group, key: str, path: str | Path) -> zarr.Array:
    """The array at ``key`` of the dataset at ``path`` (a zarr group's member may also be a group)."""
    node = root[key]
    if not isinstance(node, zarr.Array):
        raise FlygnnError(
            f"dataset {path}: {key} is a group, not an array; it is corrupt — re-run `flygnn simulate --overwrite`."
        )
    return node


class DatasetWriter:
    """Writes a dataset group into ``directory`` (normally a temporary one).

    Frame arrays are written chunk by chunk as the simulation produces them, in
    a background thread so compression overlaps the next simulation chunk; memory
    stays bounded by two chunks whatever the number of frames.
    """

    def __init__(
        self, directory: Path, network: Network, ground_truth: GroundTruth, frames: dict[str, int], attrs: dict
    ):
        self.directory = directory
        self.root = zarr.open_group(str(directory), mode="w", zarr_format=3)
        self.network = network
        self.frames = frames
        n = network.n_neurons
        for split, count in frames.items():
            group = self.root.create_group(split)
            for name in FRAME_ARRAYS:
                group.create_array(
                    name, shape=(count, n), chunks=(CHUNK_FRAMES, n), dtype="float32", compressors=[COMPRESSOR]
                )
        self._put("neurons/type", network.neuron_type.astype(np.int64))
        self._put("edges/source", network.source.astype(np.int64))
        self._put("edges/target", network.target.astype(np.int64))
        self._put("edges/sign", network.flyvis_sign.astype(np.float32))
        self._put("edges/syn_count", network.flyvis_syn_count.astype(np.float32))
        self._put("groundtruth/tau", ground_truth.tau.astype(np.float32))
        self._put("groundtruth/v_rest", ground_truth.v_rest.astype(np.float32))
        self._put("groundtruth/W", ground_truth.W.astype(np.float32))
        self.root.attrs.update(
            {
                **attrs,
                "format": FORMAT,
                "complete": False,
                "type_names": list(network.type_names),
                "extent": network.extent,
                "network_fingerprint": network.fingerprint(),
                "splits": dict(frames),
                "groundtruth": {
                    "source": ground_truth.source,
                    "synthetic": ground_truth.synthetic,
                    "fingerprint": ground_truth.fingerprint(),
                },
            }
        )
        self._executor = ThreadPoolExecutor(max_workers=1)
        self._pending: Future | None = None
        self._sum = np.zeros(n, dtype=np.float64)
        self._sum_sq = np.zeros(n, dtype=np.float64)

    def _put(self, path: str, array: np.ndarray) -> None:
        group_name, name = path.split("/")
        group = self.root.require_group(group_name)
        group.create_array(name, data=array, compressors=[COMPRESSOR])

    def write(self, split: str, start: int, chunk) -> None:
        """Queue frames ``start:start+n`` of ``split`` (a :class:`flygnn.simulate.Chunk`)."""
        if split == "train":
            voltage = chunk.voltage.astype(np.float64)
            self._sum += voltage.sum(axis=0)
            self._sum_sq += (voltage * voltage).sum(axis=0)
        self._wait()
        stop = start + chunk.voltage.shape[0]
        arrays = {name: _array(self.root, f"{split}/{name}", self.directory) for name in FRAME_ARRAYS}

        def store() -> None:
            for name in FRAME_ARRAYS:
                arrays[name][start:stop] = getattr(chunk, name)

        self._pending = self._executor.submit(store)

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # re-raises a failed write (e.g. disk full)
            self._pending = None

    def finish(self) -> None:
        """Flush, store activity statistics and mark the dataset complete."""
        self._wait()
        self._executor.shutdown()
        count = self.frames["train"]
        mean = self._sum / count
        std = np.sqrt(np.maximum(self._sum_sq / count - mean * mean, 0.0))
        self._put("statistics/voltage_mean", mean.astype(np.float32))
        self._put("statistics/voltage_std", std.astype(np.float32))
        self.root.attrs["complete"] = True

    def abort(self) -> None:
        try:
            self._wait()
        except Exception:  # noqa: BLE001 - the caller is already handling a failure
            pass
        self._executor.shutdown(wait=True)


class Dataset:
    """Read access to a finished dataset; validated on open (see :func:`open_dataset`)."""

    def __init__(self, path: Path, root: zarr.Group):
        self.path = path
        self.root = root
        self.attrs: dict = dict(root.attrs)

    @property
    def sigma(self) -> float:
        return float(self.attrs["sigma"])

    @property
    def dt(self) -> float:
        return float(self.attrs["dt"])

    @property
    def type_names(self) -> tuple[str, ...]:
        return tuple(self.attrs["type_names"])

    @property
    def n_neurons(self) -> int:
        return int(self._array("neurons/type").shape[0])

    @property
    def n_edges(self) -> int:
        return int(self._array("edges/source").shape[0])

    def frames(self, split: str) -> int:
        self._check_split(split)
        return int(self._array(f"{split}/voltage").shape[0])

    def _array(self, key: str) -> zarr.Array:
        return _array(self.root, key, self.path)

    def values(self, key: str) -> np.ndarray:
        """The whole array at ``key`` in memory."""
        return np.asarray(self._array(key)[:])

    def _check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise FlygnnError(f"unknown split {split!r}; a dataset has {SPLITS}.")

    def read(self, split: str, name: str, frames: np.ndarray | slice | None = None) -> np.ndarray:
        """Frames of one array, (len, N) f4. ``frames`` may be a slice or sorted indices."""
        self._check_split(split)
        if name not in FRAME_ARRAYS:
            raise FlygnnError(f"unknown array {name!r}; frame arrays are {FRAME_ARRAYS}.")
        array = self._array(f"{split}/{name}")
        if frames is None:
            return np.asarray(array[:])
        if isinstance(frames, slice):
            return np.asarray(array[frames])
        return np.asarray(array.get_orthogonal_selection((np.asarray(frames), slice(None))))

    def load_split(self, split: str) -> dict[str, np.ndarray]:
        """voltage, stimulus and target of ``split`` fully in memory."""
        return {name: self.read(split, name) for name in FRAME_ARRAYS}

    @property
    def neuron_type(self) -> np.ndarray:
        return self.values("neurons/type")

    @property
    def voltage_mean(self) -> np.ndarray:
        return self.values("statistics/voltage_mean")

    @property
    def voltage_std(self) -> np.ndarray:
        return self.values("statistics/voltage_std")

    def ground_truth(self) -> GroundTruth:
        info = self.attrs["groundtruth"]
        return GroundTruth(
            tau=self.values("groundtruth/tau"),
            v_rest=self.values("groundtruth/v_rest"),
            W=self.values("groundtruth/W"),
            source=info["source"],
            synthetic=bool(info["synthetic"]),
        )

    def check_network(self, network: Network) -> None:
        """Raise FlygnnError saying what differs when the dataset is for another network."""
        if self.attrs.get("network_fingerprint") == network.fingerprint():
            return
        raise FlygnnError(
            f"dataset {self.path} was simulated on another network (extent {self.attrs.get('extent')}, "
            f"{self.n_neurons} neurons, {self.n_edges} edges) than the one given (extent {network.extent}, "
            f"{network.n_neurons} neurons, {network.n_edges} edges)."
        )

    def fingerprint(self) -> str:
        """Identifies the dataset's content the same way on every machine.

        Hashes the attributes that define it (σ, seed, stimulus, network, the ground
        truth's fingerprint…) without what depends on the machine (creation time, install
        paths of the stimulus images, the ground truth's location), the split sizes, and
        the bytes of the first and last training frames' voltages — so a dataset
        regenerated elsewhere matches only if the simulation really gave the same numbers.
        """
        description = {k: v for k, v in self.attrs.items() if k not in ("created", "stimulus_sources", "groundtruth")}
        sources = self.attrs.get("stimulus_sources") or {}
        description["stimulus_sources"] = {name: str(text).split(":", 1)[0] for name, text in sorted(sources.items())}
        truth = self.attrs.get("groundtruth") or {}
        description["groundtruth"] = {k: truth.get(k) for k in ("fingerprint", "synthetic")}
        description["shapes"] = {s: self.frames(s) for s in SPLITS}
        digest = hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode())
        frames = self.frames("train")
        if frames:
            for index in sorted({0, frames - 1}):
                digest.update(
                    np.ascontiguousarray(self.read("train", "voltage", slice(index, index + 1)), dtype="<f4").tobytes()
                )
        return digest.hexdigest()[:16]


def open_dataset(path: str | Path) -> Dataset:
    """Open a finished dataset; FlygnnError when missing, unfinished or corrupt."""
    path = Path(path)
    if not path.exists():
        raise FlygnnError(f"dataset {path} not found; create it with `flygnn simulate` (see README).")
    try:
        root = zarr.open_group(str(path), mode="r")
    except Exception as exc:  # zarr raises several types for a broken store
        raise FlygnnError(f"{path} is not a readable zarr dataset ({type(exc).__name__}: {exc}).") from exc
    attrs: dict[str, Any] = dict(root.attrs)
    if attrs.get("format") != FORMAT:
        raise FlygnnError(f"{path} is not a flygnn dataset (format {attrs.get('format')!r}, expected {FORMAT!r}).")
    if not attrs.get("complete"):
        raise FlygnnError(
            f"dataset {path} is incomplete (its simulation did not finish); re-run `flygnn simulate --overwrite`."
        )
    dataset = Dataset(path, root)
    for split in SPLITS:
        expected = attrs["splits"].get(split)
        for name in FRAME_ARRAYS:
            key = f"{split}/{name}"
            if key not in root:
                raise FlygnnError(
                    f"dataset {path} lacks the array {key}; it is truncated — re-run `flygnn simulate --overwrite`."
                )
            shape = dataset._array(key).shape
            if shape != (expected, dataset.n_neurons):
                raise FlygnnError(
                    f"dataset {path}: {key} has shape {shape}, expected ({expected}, {dataset.n_neurons}); "
                    "it is truncated — re-run `flygnn simulate --overwrite`."
                )
    return dataset
