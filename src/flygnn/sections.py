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
    """

    name: str
    title: str
    caption: str


@dataclass(frozen=True)
class Section:
    """One analysis notebook (``analysis/<name>.ipynb``) and one book chapter."""

    name: str
    title: str
    figures: tuple[FigureFamily, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        name="connectivity",
        title="Connectivity recovery",
        figures=(
            FigureFamily(
                "weights-raw",
                "Raw learned weights",
                "Learned edge weights Ŵ against the true W, all edges. Without the gauge "
                "correction the cloud is smeared: gains of g_φ and f_θ trade with Ŵ.",
            ),
            FigureFamily(
                "weights-corrected",
                "Gauge-corrected weights",
                "Corrected weights W* against the true W. Points on the identity line mean "
                "the synaptic weights are recovered up to the network's own gauge.",
            ),
        ),
    ),
    Section(
        name="embeddings",
        title="Neural embeddings and clustering",
        figures=(
            FigureFamily(
                "embeddings",
                "Learned embeddings",
                "The learned neuron embeddings a_i (all dimensions), coloured by cell type. "
                "Tight, separated type clouds mean the GNN discovered cell identity.",
            ),
            FigureFamily(
                "umap-types",
                "UMAP by cell type",
                "UMAP of the clustering features coloured by the true cell type.",
            ),
            FigureFamily(
                "umap-clusters",
                "UMAP by GMM cluster",
                "The same UMAP coloured by GMM cluster; compare with the true types.",
            ),
        ),
    ),
    Section(
        name="functions",
        title="Learned functions",
        figures=(
            FigureFamily(
                "f-theta",
                "Update function f_θ",
                "f_θ(v, a_i, msg = 0, I = 0) per neuron over its natural range, coloured by "
                "type, beside the true (V_rest − v)/τ.",
            ),
            FigureFamily(
                "g-phi",
                "Message function g_φ²",
                "g_φ(v, a_j)² per neuron over its natural range beside the true ReLU(v): "
                "a monotone, rectifying shape is what the simulator used.",
            ),
        ),
    ),
    Section(
        name="biophysics",
        title="Biophysical parameters",
        figures=(
            FigureFamily(
                "tau",
                "Time constants",
                "Recovered time constants τ̂ against the truth, per neuron and per type.",
            ),
            FigureFamily(
                "v-rest",
                "Resting potentials",
                "Recovered resting potentials V̂_rest against the truth, per neuron and per type.",
            ),
        ),
    ),
    Section(
        name="spectral",
        title="Spectral analysis",
        figures=(
            FigureFamily(
                "spectral",
                "Spectrum of W and W*",
                "Eigenvalues, singular values and singular-vector alignment of the true and "
                "corrected weight matrices, with the random baseline for N-dimensional vectors.",
            ),
        ),
    ),
)


def section(name: str) -> Section:
    for candidate in SECTIONS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown section {name!r}; known: {[s.name for s in SECTIONS]}")


def figure_families() -> list[FigureFamily]:
    return [family for s in SECTIONS for family in s.figures]
