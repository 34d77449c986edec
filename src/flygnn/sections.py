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
    "holds about 98 % of the edges, enlarged. Without the gauge correction the slope is "
    "not 1 and the cloud fans out: gains of g_φ and f_θ trade with Ŵ.",
    stack_in_pdf=True,
)
WEIGHTS_CORRECTED = FigureFamily(
    "weights-corrected",
    "Gauge-corrected weights",
    "Corrected weights W* (upstream's rules) against the true W, as a density of edges "
    "(log colour scale); right: the core |W| < 0.5 enlarged. Points on the identity line "
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
    "identity. The legend groups the 65 types by family.",
    type_legend=True,
)
EMBEDDINGS_PAIRS = FigureFamily(
    "embeddings-pairs",
    "Embedding dimensions by pairs",
    "Every pair of dimensions of the learned embedding a (one panel for d = 2, six for d = 4), coloured by cell type.",
    type_legend=True,
)
UMAP_TYPES = FigureFamily(
    "umap-types",
    "UMAP by cell type",
    "UMAP of the standardised clustering features coloured by the true cell type "
    "(UMAP's axes have no units; only neighbourhoods matter).",
    type_legend=True,
)
UMAP_CLUSTERS = FigureFamily(
    "umap-clusters",
    "UMAP by GMM cluster",
    "The same UMAP coloured by the clusters of upstream's GMM (clustering_accuracy); compare with the true types.",
)
F_THETA = FigureFamily(
    "f-theta",
    "Update function f_θ",
    "f_θ(v, a_i, msg = 0, I = 0) per neuron over its natural range μ ± 2s, coloured by "
    "type, beside the true (V_rest − v)/τ; voltages in flyvis' arbitrary units (a.u.), "
    "dv/dt in a.u./s.",
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
    "they never drive the ReLU) are left out; the panel title counts them.",
    type_legend=True,
    stack_in_pdf=True,
)
TAU = FigureFamily(
    "tau",
    "Time constants",
    "Recovered time constants τ̂ (s) against the truth, per neuron and per type "
    "(median and interquartile range); estimates far outside the truth's range are "
    "pinned to the border (▲▼) and counted.",
    type_legend=True,
    stack_in_pdf=True,
)
V_REST = FigureFamily(
    "v-rest",
    "Resting potentials",
    "Recovered resting potentials V̂_rest against the truth, per neuron and per type, in "
    "flyvis' arbitrary voltage units (a.u.); the third panel reads V_rest at the operating point.",
    type_legend=True,
    stack_in_pdf=True,
)
SPECTRAL = FigureFamily(
    "spectral",
    "Spectrum of W and W*",
    "Eigenvalues, singular values and singular-vector alignment of the true and "
    "corrected weight matrices, beside two baselines: random N-dimensional vectors and a "
    "permutation null (grey: W's weights shuffled on the same graph). The null keeps the "
    "graph and the weight distribution and loses which edge has which weight; singular "
    "values matched by rank agree well even for it, so compare W* with the null, not "
    "only with the identity line.",
    stack_in_pdf=True,
)
SPECTRAL_DYNAMICS = FigureFamily(
    "spectral-dynamics",
    "Spectrum of the linearised dynamics",
    "The 100 rightmost eigenvalues (1/s) of the Jacobian J = diag(1/τ)(−I + W·D) of the "
    "dynamics at the mean training voltage μ (D = diag(ReLU′(μ))), true (τ, W) and learned "
    "(τ̂, W*), on the neurons with μ > 0 (every other neuron adds exactly −1/τ). These "
    "slowest modes are set mostly by the longest time constants: a flat run in (b) is a "
    "group of neurons with one τ whose eigenvalue the coupling leaves at −1/τ.",
    stack_in_pdf=True,
)

SECTIONS: tuple[Section, ...] = (
    Section("connectivity", "Connectivity recovery", (WEIGHTS_RAW, WEIGHTS_CORRECTED)),
    Section(
        "embeddings", "Neural embeddings and clustering", (EMBEDDINGS, EMBEDDINGS_PAIRS, UMAP_TYPES, UMAP_CLUSTERS)
    ),
    Section("functions", "Learned functions", (F_THETA, G_PHI)),
    Section("biophysics", "Biophysical parameters", (TAU, V_REST)),
    Section("spectral", "Spectral analysis", (SPECTRAL, SPECTRAL_DYNAMICS)),
)


def book_figure_stems(family: FigureFamily) -> tuple[str, ...]:
    """The figures (stems in ``figures/``) a notebook saves for ``family`` and the book needs."""
    return (family.name, family.panel, TYPE_LEGEND_FIGURE) if family.type_legend else (family.name,)


def figure_families() -> list[FigureFamily]:
    return [family for s in SECTIONS for family in s.figures]
