"""The analysis sections of the report and the figure families each one draws.

The single source of truth shared by the analysis notebooks (which save the
figures under these names), the papermill runner (which executes one notebook per
section and condition) and the chapter generator (which builds one σ-grid per
figure family). Adding a figure family here is the only edit needed to put it in
the book, once the section's notebook saves it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FigureFamily:
    """One figure per condition, shown side by side across σ in the book.

    ``name`` is the file stem (``figures/<name>.png`` and ``.pdf``) and the
    cross-reference id stem (``#fig-<name>``, sub-figures ``#fig-<name>-<condition>``).
    ``caption`` is the shared caption of the σ-grid: what to look for.
    ``type_legend``: the figure carries the 65-type colour legend; the notebook then also
    saves it without (``figures/<name>-panel.png``) and the legend alone
    (``figures/type-legend.png``), and the σ-grid shows the panels above one legend.
    """

    name: str
    title: str
    caption: str
    type_legend: bool = False
    # a wide figure (two or three panels side by side) is unreadable a third of a printed page
    # wide: in the PDF its σ-grid stacks the panels, one noise level per row, as wide as lets
    # them all fit one page (flygnn.report.chapters.sigma_grid); the HTML keeps the row
    stack_in_pdf: bool = False
    # the height (inches) a stacked σ-grid takes in the PDF with its sub-captions, where it must
    # share its page with more text than the default leaves room for (None: the default,
    # flygnn.report.chapters.PDF_FIGURE_HEIGHT_IN); its text must still print legibly, so a
    # lower grid needs its figure drawn lower (tests/test_notebooks.py checks the printed size)
    pdf_height_in: float | None = None
    # the quantity has the same unit in every condition's figure: its axes are shared across σ
    # (limits from the truth or fixed ranges, flygnn.figures.limits) and the notebook writes them
    # to figures/<name>.limits.json; False where each condition's axes are its own (learned embeddings, UMAP)
    shared_axes: bool = True

    @property
    def panel(self) -> str:
        """The stem of the figure the σ-grid shows: without the type legend where it has one."""
        return f"{self.name}-panel" if self.type_legend else self.name


# the type legend alone, saved beside the figures that carry it
TYPE_LEGEND_FIGURE = "type-legend"


@dataclass(frozen=True)
class Section:
    """One analysis notebook (``analysis/<name>.ipynb``) and one book chapter."""

    name: str
    title: str
    figures: tuple[FigureFamily, ...]


# The figure families, one constant each: the notebooks (analysis/<section>.py) save the figures
# under these names (flygnn.notebook.sync checks it) and the chapters show them.
WEIGHTS_RAW = FigureFamily(
    "weights-raw",
    "Raw learned weights",
    "Learned edge weights Ŵ against the true W, all edges, drawn as a density: hexagons "
    "coloured by the number of edges in them (log scale). Right: the core |W| < 0.5, which "
    "holds about 98 % of the edges, enlarged. Both axes span the true W's range at every noise "
    "level; a weight beyond is drawn at the edge (orange triangles) and counted. Without the "
    "gauge correction the slope is not 1 and the cloud fans out: gains of g_φ and f_θ trade with Ŵ.",
    stack_in_pdf=True,
)
WEIGHTS_CORRECTED = FigureFamily(
    "weights-corrected",
    "Gauge-corrected weights",
    "Corrected weights W* (upstream's rules) against the true W, as a density of edges "
    "(log colour scale); right: the core |W| < 0.5 enlarged. Both axes span the true W's range at "
    "every noise level; a weight beyond is drawn at the edge (orange triangles) and counted. Points on the identity line "
    "mean the synaptic weights are recovered up to the network's own gauge. The text gives "
    "upstream's R² beside the identity-line R², the R² over the identifiable edges, and the "
    "R² without the few edges with |W| ≥ 1, which span most of W's range and dominate the R².",
    stack_in_pdf=True,
)
EMBEDDINGS = FigureFamily(
    "embeddings",
    "Learned embeddings",
    "The first two principal components of the learned neuron embeddings a_i, coloured "
    "by cell type: the same picture whatever the embedding dimension d, so the noise "
    "levels compare like with like (the axis labels give the share of variance each "
    "component explains). Tight, separated type clouds mean the GNN discovered cell "
    "identity. The legend groups the 65 types by family. Each noise level learned its own "
    "embedding space, so the axes are not shared.",
    type_legend=True,
    shared_axes=False,
)
EMBEDDINGS_PAIRS = FigureFamily(
    "embeddings-pairs",
    "Embedding dimensions by pairs",
    "Every pair of dimensions of the learned embedding a (one panel for d = 2, six for d = 4), coloured by cell type.",
    type_legend=True,
    shared_axes=False,
)
UMAP_TYPES = FigureFamily(
    "umap-types",
    "Cell types in the UMAP",
    "UMAP of the standardised clustering features: each type's name at the median position of "
    "its neurons, all neurons in grey. Types named close together are ones the features barely "
    "tell apart (UMAP's axes have no units and are not shared; only neighbourhoods matter).",
    stack_in_pdf=True,
    shared_axes=False,
)
UMAP_CLUSTERS = FigureFamily(
    "umap-clusters",
    "GMM clusters against cell types",
    "The share of each type's neurons (rows, grouped by family) in each cluster of upstream's GMM "
    "(columns: the cluster the Hungarian assignment of clustering_accuracy matched to the row's "
    "type, then the unmatched clusters after the dashed line). A full diagonal square is a type "
    "found as one cluster; a row spread over several columns a type split, a column lit in "
    "several rows types merged. The accuracies are those of the tables.",
    stack_in_pdf=True,
)
F_THETA = FigureFamily(
    "f-theta",
    "Update function f_θ",
    "f_θ(v, a_i, msg = 0, I = 0) per neuron over its natural range μ ± 2s, coloured by "
    "type, beside the true (V_rest − v)/τ; voltages in flyvis' arbitrary units (a.u.), "
    "dv/dt in a.u./s. Linear axes shared by every noise level: x holds every neuron's range, "
    "y the range of the true function over it; a learned curve beyond runs along the edge and "
    "is marked there (triangles) and counted.",
    type_legend=True,
    stack_in_pdf=True,
)
G_PHI = FigureFamily(
    "g-phi",
    "Message function g_φ²",
    "g_φ(v, a_j)² of each neuron divided by its own slope s_g(j) over the rectified "
    "natural range — the gain that trades with Ŵ — so every curve is normalised to slope 1 "
    "there and only its shape is compared with the true ReLU(v): a monotone, rectifying "
    "shape is what the simulator used. Neurons whose gain is unidentifiable (μ + s ≤ 0: "
    "they never drive the ReLU) are left out; the panel title counts them. Linear axes shared "
    "by every noise level, y the range of ReLU(v); a learned curve beyond runs along the edge, "
    "marked (triangles) and counted.",
    type_legend=True,
    stack_in_pdf=True,
)
TAU = FigureFamily(
    "tau",
    "Time constants",
    "Recovered time constants τ̂ (s) against the truth, per neuron (upstream's rules, which "
    "R² scores) and per type (median and interquartile range). The axes are the same at every "
    "noise level, from the true τ; estimates beyond are drawn at the edge (▲▼) and counted. "
    "Neurons whose voltage never varied are scored τ̂ = 1 by upstream's rule: drawn hollow (△) "
    "at the top edge and counted.",
    type_legend=True,
    stack_in_pdf=True,
)
V_REST = FigureFamily(
    "v-rest",
    "Resting potentials",
    "Recovered resting potentials V̂_rest against the truth, per neuron and per type, in "
    "flyvis' arbitrary voltage units (a.u.); the third panel reads V_rest at the operating point. "
    "The axes are the same at every noise level, from the true V_rest; estimates beyond are drawn "
    "at the edge (▲▼), upstream's fill value 1 hollow (○), and counted.",
    type_legend=True,
    stack_in_pdf=True,
)
SPECTRAL = FigureFamily(
    "spectral",
    "Spectrum of W and W*",
    "Eigenvalues and singular values of the true and corrected weight matrices, beside a "
    "permutation null (grey: W's weights shuffled on the same graph). The null keeps the "
    "graph and the weight distribution and loses which edge has which weight; singular "
    "values matched by rank agree well even for it, so compare W* with the null, not "
    "only with the identity line. The axes come from W's spectrum, the same at every noise "
    "level; values beyond are drawn at the edge and counted.",
    stack_in_pdf=True,
)
SPECTRAL_ALIGNMENT = FigureFamily(
    "spectral-alignment",
    "Singular vectors of W and W*",
    "Alignment |cos| of the top singular vectors of W and W*: (d, e) every pair, (f) the best "
    "match of each vector of W, beside the baselines of random N-dimensional vectors and of the "
    "permutation null (grey).",
    stack_in_pdf=True,
)
SPECTRAL_DYNAMICS = FigureFamily(
    "spectral-dynamics",
    "Spectrum of the linearised dynamics",
    "The 100 rightmost eigenvalues (1/s) of the Jacobian J = diag(1/τ)(−I + W·D) at the mean "
    "training voltage μ, true (τ, W) and learned (τ̂, W*), on the neurons with μ > 0. A flat run in "
    "(b) is a group of neurons with one τ whose eigenvalue the coupling leaves at −1/τ. The axes "
    "come from the true τ alone (−2/τ_max to a quarter of 1/τ_max right of the stability boundary 0), "
    "the same at every noise level; values beyond are drawn at the edge and counted.",
    stack_in_pdf=True,
    pdf_height_in=5.9,  # on the appendix's page, below its two paragraphs
)

ROLLOUT = FigureFamily(
    "rollout",
    "Held-out rollout",
    "The learned network run on its own (dashed) from the first state of a held-out simulation — "
    "stimulus images and noise training never saw — beside the true noise-free dynamics (black) and "
    "the noisy recording (grey), for the central-column neuron of six cell types; voltages in flyvis' "
    "arbitrary units (a.u.). Bottom: the error against time, each neuron's error divided by the std of "
    "its true trace, as the RMS and the median over neurons, beside what the noise alone does "
    "(true noise-free against recorded). Every noise level starts from the same state on the same "
    "stimulus, so the true traces and the axes are the same in every panel; a value beyond is drawn at "
    "the edge (▲) and counted.",
    stack_in_pdf=True,
)
DIRECTION_SELECTIVITY = FigureFamily(
    "direction-selectivity",
    "Direction selectivity and ON/OFF preference",
    "The learned and the true network, each shown the same ON and OFF edges moving in 12 directions "
    "and ON and OFF flashes (flyvis' probes), compared cell type by cell type (central column): the "
    "direction selectivity index for ON and for OFF edges (T4a–d on ON, T5a–d on OFF edges "
    "highlighted), the flash response index (> 0: prefers ON), and the preferred directions of T4 and "
    "T5 (true solid, learned dashed, length = DSI). The indices have fixed ranges, the same axes at "
    "every noise level; points on the diagonal mean the learned network keeps the tuning.",
    stack_in_pdf=True,
)

SECTIONS: tuple[Section, ...] = (
    Section("connectivity", "Connectivity recovery", (WEIGHTS_RAW, WEIGHTS_CORRECTED)),
    Section(
        "embeddings", "Neural embeddings and clustering", (EMBEDDINGS, EMBEDDINGS_PAIRS, UMAP_TYPES, UMAP_CLUSTERS)
    ),
    Section("functions", "Learned functions", (F_THETA, G_PHI)),
    Section("biophysics", "Biophysical parameters", (TAU, V_REST)),
    Section("spectral", "Spectral analysis", (SPECTRAL, SPECTRAL_ALIGNMENT, SPECTRAL_DYNAMICS)),
    Section("validation", "Held-out and functional validation", (ROLLOUT, DIRECTION_SELECTIVITY)),
)


def book_figure_stems(family: FigureFamily) -> tuple[str, ...]:
    """The figures (stems in ``figures/``) a notebook saves for ``family`` and the book needs."""
    return (family.name, family.panel, TYPE_LEGEND_FIGURE) if family.type_legend else (family.name,)


def figure_families() -> list[FigureFamily]:
    return [family for s in SECTIONS for family in s.figures]
