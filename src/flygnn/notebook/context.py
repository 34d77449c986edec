"""What a section notebook needs for one condition: :func:`load_context` and its :class:`NotebookContext`.

A notebook calls :func:`load_context` with its papermill parameters
(:class:`~flygnn.notebook.parameters.NotebookParameters`) and gets the bundle's model,
the network and the ground truth, checked against each other. Quantities that several
sections use or that take long (the gauge correction, the clustering and its controls,
the spectra, the linearised dynamics) come from the per-condition cache
(:mod:`flygnn.notebook.cache`). Figures are saved and shown, metrics written, here.

This is the I/O façade over the pure steps of :mod:`flygnn.analysis` and the drawing
of :mod:`flygnn.figures`, and so sits above both.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flygnn.analysis.biophysics import BiophysicalParameters
from flygnn.analysis.clustering import TypeClustering, clustering_features, true_parameter_features, umap_embedding
from flygnn.analysis.functions import FunctionCurves
from flygnn.analysis.gauge import GaugeCorrection
from flygnn.analysis.metrics import Metric, write_metrics
from flygnn.analysis.spectral import LinearisedDynamics, SpectralAnalysis
from flygnn.errors import FlygnnError
from flygnn.figures.limits import write_limits
from flygnn.figures.style import apply_style, remove_type_legend, save_figure, type_legend_figure
from flygnn.notebook.cache import cache_key, cached_arrays, restore
from flygnn.notebook.parameters import NotebookParameters
from flygnn.project import ResultFolder
from flygnn.sections import TYPE_LEGEND_FIGURE

# the held-out simulation (NotebookContext.heldout_dataset): 8 s of test frames at dt = 0.02 s, and the
# seed of its noise (training datasets use 0 by default: another stream)
HELDOUT_FRAMES = 400
HELDOUT_NOISE_SEED = 1

GAUGE_ATTRIBUTES = (
    "message_range_",
    "update_range_",
    "message_slope_",
    "update_slope_",
    "update_offset_",
    "msg_sensitivity_",
    "stimulus_sensitivity_",
    "no_input_msg_",
    "operating_v_rest_",
    "unidentifiable_",
    "zero_range_",
    "learned_W_",
    "corrected_W_",
    "upstream_message_slope_",
    "upstream_update_slope_",
    "upstream_update_offset_",
    "upstream_corrected_W_",
)
SPECTRAL_ATTRIBUTES = (
    "eigenvalues_true_",
    "eigenvalues_corrected_",
    "singular_values_true_",
    "singular_values_corrected_",
    "left_alignment_",
    "right_alignment_",
    "best_left_alignment_",
    "best_right_alignment_",
    "null_singular_values_",
    "null_best_left_alignment_",
    "null_best_right_alignment_",
)
DYNAMICS_ATTRIBUTES = ("eigenvalues_true_", "eigenvalues_learned_", "active_")


@dataclass
class NotebookContext:
    """One condition's inputs, checked against each other, and its output folders.

    ``bundle`` is a :class:`flygnn.bundle.Bundle`; ``network`` a
    :class:`flygnn.connectome.Network`; ``ground_truth`` a :class:`flygnn.groundtruth.GroundTruth`.
    """

    condition: str
    sigma: float
    output_dir: Path
    bundle: Any
    network: Any
    ground_truth: Any
    # the training dataset ("" where it is not on this machine): its stimulus decides the held-out images
    dataset: str = ""
    _type_legend_saved: bool = field(default=False, init=False, repr=False)

    @property
    def figures_dir(self) -> Path:
        return ResultFolder(self.output_dir).figures

    @property
    def metrics_dir(self) -> Path:
        return ResultFolder(self.output_dir).metrics_dir

    @property
    def cache_dir(self) -> Path:
        return ResultFolder(self.output_dir).cache

    @property
    def model(self):
        return self.bundle.model

    @property
    def type_names(self) -> tuple[str, ...]:
        return self.network.type_names

    @property
    def neuron_type(self) -> np.ndarray:
        return self.network.neuron_type

    @property
    def bundle_fingerprint(self) -> str:
        """The bundle's fingerprint (hashing its files once)."""
        if not hasattr(self, "_bundle_fingerprint"):
            self._bundle_fingerprint = self.bundle.fingerprint()
        return self._bundle_fingerprint

    def inputs(self) -> dict[str, str]:
        """Fingerprints of everything the metrics depend on (recorded beside each metric)."""
        return {
            "bundle": self.bundle_fingerprint,
            "groundtruth": self.ground_truth.fingerprint(),
            "network": self.network.fingerprint(),
        }

    @property
    def label(self) -> str:
        """Which condition this is: its name, σ, and 'synthetic ground truth' when it is (printed by the
        notebooks; figure titles leave it out, the book's sub-captions say σ)."""
        text = f"{self.condition} (σ = {self.sigma:g})"
        return text + ", synthetic ground truth" if self.ground_truth.synthetic else text

    # --- shared derived quantities (cached) -------------------------------------------

    def gauge(self) -> GaugeCorrection:
        """The fitted gauge correction (W*, slopes, flags) of this condition's model."""
        if not hasattr(self, "_gauge"):

            def compute() -> dict[str, np.ndarray]:
                fitted = GaugeCorrection().fit(self.model, self.bundle.activity)
                arrays = {name: getattr(fitted, name) for name in GAUGE_ATTRIBUTES}
                arrays["nonfinite_learned_W_"] = np.array(fitted.nonfinite_learned_W_)
                return arrays

            arrays = cached_arrays(self.cache_dir, "gauge", cache_key(self.bundle_fingerprint), compute)
            scalars = {"nonfinite_learned_W_": int(arrays.pop("nonfinite_learned_W_"))}
            self._gauge = restore(GaugeCorrection, arrays, scalars)
        return self._gauge

    def biophysics(self) -> BiophysicalParameters:
        """τ̂ and V̂_rest per neuron and per type (instant from the cached gauge)."""
        return BiophysicalParameters().fit(self.gauge(), self.neuron_type, self.network.n_types)

    def clustering(self, seeds: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
        """Upstream's GMM clustering, ours (standardised, over ``seeds``) and the 2-D UMAP (cached).

        Returns {"upstream_accuracy", "upstream_labels" (N,), "features" (N, F) (ours),
        "feature_names", "labels" (N,) (ours, first seed), "scores" {name: (n_seeds,)},
        "umap" (N, 2), "imputed"}.
        """
        gauge, bio = self.gauge(), self.biophysics()
        embedding = self.model.a.detach().cpu().double().numpy()
        source, target = self.network.source, self.network.target
        features, names = clustering_features(embedding, bio.tau_, bio.v_rest_, gauge.corrected_W_, source, target)
        upstream_features, _ = clustering_features(
            embedding, bio.upstream_tau_, bio.upstream_v_rest_, gauge.upstream_corrected_W_, source, target
        )

        def compute() -> dict[str, np.ndarray]:
            upstream = TypeClustering.upstream().fit(upstream_features, self.neuron_type)
            fitted = TypeClustering(seeds=seeds).fit(features, self.neuron_type)
            arrays = {f"score_{k}": v for k, v in fitted.scores_.items()}
            arrays.update(
                labels=fitted.labels_,
                imputed=np.array(fitted.imputed_),
                umap=umap_embedding(features),
                upstream_labels=upstream.labels_,
                upstream_accuracy=np.array(upstream.accuracy_),
            )
            return arrays

        key = cache_key(self.bundle_fingerprint, self.network.fingerprint(), list(seeds))
        arrays = cached_arrays(self.cache_dir, "clustering", key, compute)
        return {
            "upstream_accuracy": float(arrays["upstream_accuracy"]),
            "upstream_labels": arrays["upstream_labels"],
            "features": features,
            "feature_names": names,
            "labels": arrays["labels"],
            "scores": {k[len("score_") :]: v for k, v in arrays.items() if k.startswith("score_")},
            "umap": arrays["umap"],
            "imputed": int(arrays["imputed"]),
        }

    def clustering_controls(self) -> dict[str, Any]:
        """Upstream's GMM on the embedding alone and on the true parameters (cached).

        Returns {"embedding_accuracy", "embedding_labels" (N,), "true_parameters_accuracy",
        "true_parameters_labels" (N,)}.
        """
        truth, network = self.ground_truth, self.network

        def compute() -> dict[str, np.ndarray]:
            embedding = self.model.a.detach().cpu().double().numpy()
            features, _ = true_parameter_features(truth.tau, truth.v_rest, truth.W, network.source, network.target)
            alone = TypeClustering.upstream().fit(embedding, self.neuron_type)
            ceiling = TypeClustering.upstream().fit(features, self.neuron_type)
            return {
                "embedding_accuracy": np.array(alone.accuracy_),
                "embedding_labels": alone.labels_,
                "true_parameters_accuracy": np.array(ceiling.accuracy_),
                "true_parameters_labels": ceiling.labels_,
            }

        key = cache_key(self.bundle_fingerprint, network.fingerprint(), truth.fingerprint())
        arrays = cached_arrays(self.cache_dir, "clustering_controls", key, compute)
        return {name: (float(value) if value.ndim == 0 else value) for name, value in arrays.items()}

    def spectral(self, n_eigenvalues: int = 200, n_singular: int = 100, n_permutations: int = 3) -> SpectralAnalysis:
        """Spectra of W, W* and the permutation null (cached). Smaller networks get fewer values (at most N/4)."""
        n = self.network.n_neurons
        n_eigenvalues, n_singular = min(n_eigenvalues, n // 4), min(n_singular, n // 4)
        gauge = self.gauge()

        def compute() -> dict[str, np.ndarray]:
            fitted = SpectralAnalysis(n_eigenvalues, n_singular, n_permutations).fit(
                self.ground_truth.W, gauge.corrected_W_, self.network.source, self.network.target, n
            )
            arrays = {name: getattr(fitted, name) for name in SPECTRAL_ATTRIBUTES}
            arrays.update(random_mean_=np.array(fitted.random_mean_), random_best_=np.array(fitted.random_best_))
            arrays["dropped_edges_"] = np.array(fitted.dropped_edges_)
            return arrays

        key = cache_key(
            self.bundle_fingerprint, self.ground_truth.fingerprint(), n_eigenvalues, n_singular, n_permutations
        )
        arrays = cached_arrays(self.cache_dir, "spectral", key, compute)
        scalars = {name: arrays.pop(name).item() for name in ("random_mean_", "random_best_", "dropped_edges_")}
        return restore(SpectralAnalysis, arrays, scalars)

    def dynamics(self, n_eigenvalues: int = 100) -> LinearisedDynamics:
        """Rightmost eigenvalues of the true and the learned Jacobian at the operating point (cached).

        Learned: τ̂ (:class:`BiophysicalParameters`, unclipped) and W* (``corrected_W_``); the
        operating point is the bundle's mean training voltage. At most a quarter of the coupled
        neurons' eigenvalues on small networks.
        """
        gauge, bio, truth = self.gauge(), self.biophysics(), self.ground_truth
        mean = np.asarray(self.bundle.activity["voltage_mean"], dtype=np.float64)
        n_eigenvalues = max(1, min(n_eigenvalues, int((mean > 0).sum()) // 4))

        def compute() -> dict[str, np.ndarray]:
            fitted = LinearisedDynamics(n_eigenvalues).fit(
                truth.W, truth.tau, gauge.corrected_W_, bio.tau_, self.network.source, self.network.target, mean
            )
            arrays = {name: getattr(fitted, name) for name in DYNAMICS_ATTRIBUTES}
            arrays.update(
                excluded_neurons_=np.array(fitted.excluded_neurons_), dropped_edges_=np.array(fitted.dropped_edges_)
            )
            return arrays

        key = cache_key(self.bundle_fingerprint, truth.fingerprint(), n_eigenvalues)
        arrays = cached_arrays(self.cache_dir, "dynamics", key, compute)
        scalars = {name: arrays.pop(name).item() for name in ("excluded_neurons_", "dropped_edges_")}
        return restore(LinearisedDynamics, arrays, scalars)

    def function_curves(self, n_points: int = 48) -> FunctionCurves:
        """f_θ and g_φ² per neuron over its natural range with the true functions (one section uses it)."""
        activity = self.bundle.activity
        return FunctionCurves(n_points).fit(
            self.model,
            activity["voltage_mean"],
            activity["voltage_std"],
            self.ground_truth.tau,
            self.ground_truth.v_rest,
        )

    def heldout_dataset(self, directory: str | Path, frames: int = HELDOUT_FRAMES):
        """A held-out simulation of this condition, written to ``directory/heldout.zarr`` (a
        :class:`flygnn.dataset.Dataset` whose test split is the held-out data).

        Simulated here, so that a fresh clone without the training dataset validates the same
        way: the ground truth and σ of the condition, the stimulus of the training dataset (the
        default natural-image stimulus of ``flygnn simulate`` when that dataset is not on this
        machine) whose test split draws only on images training never saw, and noise of its own
        seed (:data:`HELDOUT_NOISE_SEED`). Its test split starts, like every dataset's, from the
        noise-free grey steady state, so every σ's rollout starts from the same state.
        """
        from flygnn.simulate import simulate_dataset
        from flygnn.stimulus import StimulusSpec

        spec = StimulusSpec()
        if self.dataset:
            from flygnn.dataset import open_dataset

            spec = StimulusSpec.from_dict(open_dataset(self.dataset).attrs["stimulus"])
        return simulate_dataset(
            Path(directory) / "heldout.zarr",
            self.network,
            self.ground_truth,
            sigma=self.sigma,
            train_frames=1,
            test_frames=frames,
            stimulus_spec=spec,
            condition=self.condition,
            seed=HELDOUT_NOISE_SEED,
            progress=False,
        )

    # --- outputs ------------------------------------------------------------------------

    def save_figure(self, fig, stem: str, show: bool = True) -> None:
        """Save ``fig`` as ``figures/<stem>.png`` and ``.pdf`` (atomically) and show the PNG inline.

        The figure is drawn once; a notebook displays the saved file, so the book and the
        executed notebook show the same image. A figure with the type legend is also saved
        without it (``<stem>-panel``) beside the legend alone (``type-legend``): the book's
        σ-grids show those (:class:`flygnn.sections.FigureFamily`). The limits of the panels that the
        σ-grid shares are written beside it (``<stem>.limits.json``, :func:`flygnn.figures.limits.write_limits`),
        so that the conditions' figures can be checked to agree. Returns nothing, so that
        a cell ending with this call shows the figure and not a list of this machine's paths
        (without the trailing ``;`` that ruff's formatter removes from the notebooks' scripts).
        """
        paths = save_figure(fig, self.figures_dir, stem)
        write_limits(fig, self.figures_dir, stem)
        if remove_type_legend(fig):
            save_figure(fig, self.figures_dir, f"{stem}-panel")
            if not self._type_legend_saved:
                save_figure(type_legend_figure(self.type_names), self.figures_dir, TYPE_LEGEND_FIGURE)
                self._type_legend_saved = True
        if show:
            try:
                from IPython import get_ipython
                from IPython.display import Image, display
            except ImportError:  # outside IPython there is nothing to show
                return
            if get_ipython() is not None:
                display(Image(filename=str(paths[0])))

    def write_metrics(self, section: str, metrics: dict[str, Metric]):
        """Write ``metrics/<section>.json`` (value, definition and input fingerprints of each metric).

        Returns the metrics as a table (pandas DataFrame: metric, value, definition) to show.
        """
        import pandas as pd

        write_metrics(self.metrics_dir / f"{section}.json", metrics, self.inputs())
        rows = [{"metric": name, "value": m.value, "definition": m.definition} for name, m in metrics.items()]
        return pd.DataFrame(rows).set_index("metric")


def _synthetic_seed(meta: dict) -> int:
    match = re.search(r"seed=(\d+)", str(meta.get("groundtruth", {}).get("source", "")))
    return int(match.group(1)) if match else 0


def _ground_truth(network, bundle, cache: Path, dataset: str, flyvis_model: str, synthetic: bool):
    """The ground truth the bundle was trained against, from the dataset or the flyvis model (cached)."""
    from flygnn.groundtruth import GroundTruth, load_ground_truth

    expected = bundle.meta.get("groundtruth", {}).get("fingerprint")
    if dataset:
        from flygnn.dataset import open_dataset

        data = open_dataset(dataset)
        data.check_network(network)
        truth = data.ground_truth()
        where = f"dataset {dataset}"
    else:
        source = "synthetic" if synthetic else (flyvis_model or "default flyvis model")

        def compute() -> dict[str, np.ndarray]:
            loaded = load_ground_truth(
                network, flyvis_model or None, synthetic=synthetic, seed=_synthetic_seed(bundle.meta)
            )
            return {
                "tau": loaded.tau,
                "v_rest": loaded.v_rest,
                "W": loaded.W,
                "source": np.array(loaded.source),
                "synthetic": np.array(loaded.synthetic),
            }

        arrays = cached_arrays(cache, "groundtruth", cache_key(network.fingerprint(), source, expected), compute)
        truth = GroundTruth(
            tau=arrays["tau"],
            v_rest=arrays["v_rest"],
            W=arrays["W"],
            source=str(arrays["source"]),
            synthetic=bool(arrays["synthetic"]),
        )
        where = f"ground truth {truth.source}"
    if expected is not None and truth.fingerprint() != expected:
        raise FlygnnError(
            f"the bundle {bundle.path} was trained against ground truth {expected} "
            f"({bundle.meta.get('groundtruth', {}).get('source')}), but {where} is {truth.fingerprint()}; "
            "pass the dataset the model was trained on, or the right flyvis_model / synthetic_groundtruth."
        )
    return truth


def warning_text(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    """How a notebook shows a warning: its category and message. Python's default starts with
    the file and line that warned, an absolute path of this machine's installation, and the
    executed notebooks are published with the book."""
    return f"{category.__name__}: {message}\n"


def load_context(parameters: NotebookParameters) -> NotebookContext:
    """Load and cross-check a condition's bundle, network and ground truth (the notebook parameters).

    Applies the figure style (:func:`flygnn.figures.style.apply_style`): a notebook draws; and
    shows warnings without the path of the file that warned (:func:`warning_text`).
    Raises FlygnnError when the bundle is missing, belongs to another network, has
    another σ, or was trained against another ground truth.
    """
    from flygnn.bundle import META_FILE, load_bundle, read_meta
    from flygnn.conditions import same_sigma
    from flygnn.connectome import load_network

    condition, sigma, bundle = parameters.condition, parameters.sigma, parameters.bundle
    apply_style()
    warnings.formatwarning = warning_text
    bundle_path = Path(bundle)
    if not bundle or not (bundle_path / META_FILE).is_file():
        raise FlygnnError(
            f"condition {condition!r} has no checkpoint bundle at {bundle_path} (no {META_FILE}); "
            f"train one with `flygnn train --condition {condition}` or copy a bundle folder there."
        )
    meta = read_meta(bundle_path)
    architecture = meta["architecture"]
    if "extent" not in architecture:
        raise FlygnnError(f"{bundle_path / META_FILE} lacks architecture.extent; it is not a flygnn bundle.")
    network = load_network(int(architecture["extent"]))
    recorded = architecture.get("network_fingerprint")
    if recorded is not None and recorded != network.fingerprint():
        raise FlygnnError(
            f"bundle {bundle_path} was trained on another network (fingerprint {recorded}) than the flyvis "
            f"network of extent {network.extent} ({network.fingerprint()}); it cannot be analysed with it."
        )
    loaded = load_bundle(bundle_path, network)
    if not same_sigma(loaded.sigma, sigma):
        raise FlygnnError(
            f"bundle {bundle_path} was trained at σ = {loaded.sigma:g}, but the analysis of {condition!r} "
            f"was asked for σ = {sigma:g}; check data/conditions.yaml and the bundle folder."
        )
    if loaded.condition != condition:
        warnings.warn(
            f"bundle {bundle_path} was trained as condition {loaded.condition!r}; analysing it as {condition!r}.",
            stacklevel=2,
        )
    output = Path(parameters.output_dir)
    truth = _ground_truth(
        network,
        loaded,
        ResultFolder(output).cache,
        parameters.dataset,
        parameters.flyvis_model,
        parameters.synthetic_groundtruth,
    )
    return NotebookContext(condition, float(sigma), output, loaded, network, truth, parameters.dataset)
