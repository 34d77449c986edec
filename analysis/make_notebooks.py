"""Write the section notebooks ``analysis/<section>.ipynb`` (the single source of their content).

Run ``python analysis/make_notebooks.py`` after editing a cell here; the notebooks are
committed so papermill and readers see them without running this script, and
``tests/test_notebooks.py`` checks that they match what this script writes.

Each notebook: a papermill ``parameters`` cell (identical for every section, written
from :class:`flygnn.notebook.parameters.NotebookParameters`), one line that loads and
cross-checks the condition's inputs, then a few calls into ``flygnn.analysis`` and
``flygnn.figures`` with short text. Shared quantities come from the per-condition
cache, so no notebook recomputes another one's work. A figure is saved under the name
of its family in :mod:`flygnn.sections` (:func:`save`), and a notebook saves exactly
the families of its section (checked here when the notebooks are written).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from flygnn.notebook.parameters import NotebookParameters
from flygnn.sections import (
    EMBEDDINGS,
    EMBEDDINGS_PAIRS,
    F_THETA,
    G_PHI,
    SPECTRAL,
    SPECTRAL_DYNAMICS,
    TAU,
    UMAP_CLUSTERS,
    UMAP_TYPES,
    V_REST,
    WEIGHTS_CORRECTED,
    WEIGHTS_RAW,
    FigureFamily,
)
from flygnn.sections import SECTIONS as BOOK_SECTIONS

HERE = Path(__file__).resolve().parent

# what a reader sees before papermill injects a condition's values
EXAMPLE = NotebookParameters("sigma-0p05", 0.05, "data/bundles/sigma-0p05", "results/sigma-0p05")

SETUP = f"""\
from flygnn.notebook.context import load_context
from flygnn.notebook.parameters import NotebookParameters

ctx = load_context(NotebookParameters({", ".join(NotebookParameters.names())}))
print(ctx.label, "—", ctx.network.n_neurons, "neurons,", ctx.network.n_edges, "edges")"""

SAVED = re.compile(r'ctx\.save_figure\(.*?, "([^"]+)"\);', re.DOTALL)


def save(figure: str, family: FigureFamily) -> str:
    """The line that saves ``figure`` (the call that draws it) under its family's name."""
    return f'ctx.save_figure({figure}, "{family.name}");'


CELLS: dict[str, list[tuple[str, str]]] = {
    "connectivity": [
        (
            "md",
            "# Connectivity recovery\n\n"
            "Does the GNN recover the 434,112 synaptic weights? The learned Ŵ is only defined up to the "
            "model's gauge: a gain of g_φ or of f_θ's sensitivity to msg trades with Ŵ, and W enters the "
            "dynamics divided by τ.",
        ),
        (
            "code",
            "from flygnn.analysis import gauge_metrics, weight_metrics\n"
            "from flygnn.figures.weights import corrected_weights_figure, raw_weights_figure\n\n"
            "gauge = ctx.gauge()\n"
            "true_W = ctx.ground_truth.W\n"
            "weights = weight_metrics(true_W, gauge)\n"
            + save("raw_weights_figure(true_W, gauge.learned_W_, weights, ctx.label)", WEIGHTS_RAW),
        ),
        (
            "md",
            "## Gauge-corrected weights\n\n"
            "W*ₑ = −Ŵₑ / s_f(i) · ∂f/∂msg|ᵢ · s_g(j), with s_g and s_f the slopes of g_φ² and f_θ over each "
            "neuron's natural range (μ ± 2s, 1000 points) and ∂f/∂msg the median over the bundle's sampled "
            "training frames. `W_corrected_R2` and `W_corrected_slope` follow upstream's rules: s_g = 1 for the "
            "neurons with μ + s ≤ 0 (whose gain cannot be read) and their edges scored, undefined W* set to 0, "
            "edges with |W* − W| ≤ 5. `W_corrected_R2_identifiable` leaves the undefined W* out instead; "
            "`W_corrected_R2_small_weights` keeps upstream's rules but leaves out the few edges with |W| ≥ 1, "
            "which span most of W's range and so dominate the R².\n\n"
            "Both figures draw the edges as a density (hexagons coloured by the number of edges, log scale); "
            "the right panel enlarges the core |W| < 0.5, which holds about 98 % of the edges.",
        ),
        (
            "code",
            save(
                "corrected_weights_figure(true_W, gauge.upstream_corrected_W_, weights, ctx.label)", WEIGHTS_CORRECTED
            ),
        ),
        (
            "md",
            "## Metrics\n\nUpstream-named metrics first; the identity-line R², the identifiable-edges and unfiltered "
            "scores and the counts are reported beside them.",
        ),
        ("code", 'ctx.write_metrics("connectivity", weights | gauge_metrics(gauge))'),
    ],
    "embeddings": [
        (
            "md",
            "# Neural embeddings and clustering\n\n"
            "Each neuron's learned embedding a_i, coloured by the true cell type: first its two principal "
            "components (the same picture for every embedding dimension d), then every pair of its dimensions.",
        ),
        (
            "code",
            "from flygnn.analysis import clustering_control_metrics, clustering_metrics, principal_components\n"
            "from flygnn.figures.embeddings import embeddings_figure, embeddings_pairs_figure, umap_clusters_figure, umap_types_figure\n\n"
            "embedding = ctx.model.a.detach().numpy()\n"
            "components, explained = principal_components(embedding)\n"
            + save(
                "embeddings_figure(components, explained, ctx.neuron_type, ctx.type_names, ctx.label,\n"
                "                                  embedding.shape[1])",
                EMBEDDINGS,
            )
            + "\n"
            + save("embeddings_pairs_figure(embedding, ctx.neuron_type, ctx.type_names, ctx.label)", EMBEDDINGS_PAIRS),
        ),
        (
            "md",
            "## Clustering\n\n"
            "`clustering_accuracy` is upstream's: one GMM with 100 components (random_state 42) on the unscaled "
            "features [a_i, τ̂_i, V̂_rest,i, mean and std of incoming and outgoing W*] by upstream's rules, scored "
            "by the Hungarian one-to-one match of clusters to the 65 types. Beside it, ours: the same features "
            "standardised (unscaled, the feature with the largest units decides) over three seeds, with ARI, "
            "NMI and purity. UMAP (15 neighbours, min_dist 0.1) of the standardised features is for display; "
            "the second panel colours it by upstream's clusters.\n\n"
            "What the accuracy means, with the same upstream GMM: on the embedding a alone "
            "(`clustering_accuracy_embedding_only`: what the type code knows without τ̂, V̂_rest and W*), and on "
            "the true parameters (`clustering_accuracy_true_parameters`: true τ, V_rest and the mean/std of the "
            "true incoming and outgoing W — what perfectly recovered parameters would give with this clustering).",
        ),
        (
            "code",
            "clusters, controls = ctx.clustering(), ctx.clustering_controls()\n"
            + save('umap_types_figure(clusters["umap"], ctx.neuron_type, ctx.type_names, ctx.label)', UMAP_TYPES)
            + "\n"
            'scores = {"clustering_accuracy (upstream)": clusters["upstream_accuracy"],\n'
            '          "standardised, 3 seeds": float(clusters["scores"]["accuracy"].mean()),\n'
            '          "upstream GMM on a alone": controls["embedding_accuracy"],\n'
            '          "upstream GMM on the true parameters": controls["true_parameters_accuracy"]}\n'
            + save(
                'umap_clusters_figure(clusters["umap"], clusters["upstream_labels"], ctx.label, scores)', UMAP_CLUSTERS
            ),
        ),
        (
            "code",
            'metrics = clustering_metrics(clusters["upstream_accuracy"], clusters["scores"], clusters["imputed"])\n'
            'metrics |= clustering_control_metrics(controls["embedding_accuracy"], controls["true_parameters_accuracy"])\n'
            'ctx.write_metrics("embeddings", metrics)',
        ),
    ],
    "functions": [
        (
            "md",
            "# Learned functions\n\n"
            "f_θ(v, a_i, msg = 0, I = 0) per neuron over its natural range μ ± 2s, beside the simulator's "
            "(V_rest − v)/τ. Both are in dv/dt units: a.u./s, flyvis' voltages being in arbitrary units (a.u.).",
        ),
        (
            "code",
            "from flygnn.analysis import function_metrics\n"
            "from flygnn.figures.functions import message_function_figure, update_function_figure\n\n"
            "curves = ctx.function_curves()\n"
            + save(
                "update_function_figure(curves.voltages_, curves.update_, curves.true_update_,\n"
                "                                       ctx.neuron_type, ctx.type_names, ctx.label)",
                F_THETA,
            ),
        ),
        (
            "md",
            "## Message function\n\n"
            "g_φ(v, a_j)² divided by its slope s_g(j) over the rectified natural range — the gain that trades "
            "with Ŵ — so every curve is normalised to slope 1 there and only its shape is compared with the "
            "simulator's ReLU(v). Neurons whose gain is unidentifiable (μ + s ≤ 0: they never drive the ReLU, "
            "s_g undefined) are left out of the learned panel, which counts them.",
        ),
        (
            "code",
            "message_slope = ctx.gauge().message_slope_\n"
            + save(
                "message_function_figure(curves.voltages_, curves.message_, message_slope,\n"
                "                                        ctx.neuron_type, ctx.type_names, ctx.label)",
                G_PHI,
            ),
        ),
        ("code", 'ctx.write_metrics("functions", function_metrics(curves, message_slope))'),
    ],
    "biophysics": [
        (
            "md",
            "# Biophysical parameters\n\n"
            "τ̂_i = −1/s_f(i) and V̂_rest,i = −b_i/s_f(i) from the line fitted to f_θ(v, a_i, 0, 0) over the "
            "natural range. The truth is per type, so per-type medians are shown beside the per-neuron values. "
            "`tau_R2` and `V_rest_R2` follow upstream's rules: τ̂ clipped to [0, 1] s, and τ̂ = V̂_rest = 1 for a "
            "neuron whose voltage never varied (slope 0); `_excluding_zero_range` leaves those out. The figure "
            "draws every defined estimate. τ is in seconds; flyvis' voltages, and so V_rest, in arbitrary units (a.u.).",
        ),
        (
            "code",
            "from flygnn.analysis import biophysics_metrics\n"
            "from flygnn.figures.biophysics import parameter_figure\n\n"
            "bio, truth = ctx.biophysics(), ctx.ground_truth\n"
            "metrics = biophysics_metrics(truth.tau, truth.v_rest, bio, ctx.gauge().zero_range_, ctx.neuron_type)\n"
            + save(
                "parameter_figure(truth.tau, bio.tau_, ctx.neuron_type, ctx.type_names, ctx.label,\n"
                '                                 "τ", "s", metrics, "tau")',
                TAU,
            ),
        ),
        (
            "md",
            "## Resting potentials\n\n"
            'Upstream reads V_rest at msg = 0 in model units, which is not "no input" when g_φ² has an offset. '
            "The third panel reads it at the operating point: f_θ linearised at each sampled frame and solved "
            "for dv/dt = 0 with the msg of all-zero presynaptic voltages and no stimulus.",
        ),
        (
            "code",
            save(
                "parameter_figure(truth.v_rest, bio.v_rest_, ctx.neuron_type, ctx.type_names, ctx.label,\n"
                '                                 "V_rest", "a.u.", metrics, "V_rest",\n'
                '                                 extra=("operating point", bio.v_rest_operating_, "V_rest_operating"))',
                V_REST,
            ),
        ),
        ("code", 'ctx.write_metrics("biophysics", metrics)'),
        (
            "md",
            "## Per cell type\n\n"
            "The truth is one τ and one V_rest per type, so the book's per-type table (`per-type.csv`) gives, per "
            "type, the median of the upstream-rule τ̂ and V̂_rest beside the truth, and the R² (upstream's) of W* "
            "against W over the edges into the type's neurons (|W* − W| ≤ 5), with the counts that explain them: "
            "neurons without incoming edge, neurons whose voltage never varied (τ̂ = V̂_rest = 1 by upstream's "
            "rules) and neurons with μ + s ≤ 0 (outgoing weights not identifiable).",
        ),
        (
            "code",
            "import pandas as pd\n\nfrom flygnn.analysis.per_type import PER_TYPE_FILE, per_type_recovery, write_per_type\n\n"
            "gauge = ctx.gauge()\n"
            "per_type = per_type_recovery(ctx.type_names, ctx.neuron_type, ctx.network.target, truth.tau, truth.v_rest,\n"
            "                             truth.W, bio.upstream_tau_, bio.upstream_v_rest_, gauge.upstream_corrected_W_,\n"
            "                             gauge.zero_range_, gauge.unidentifiable_)\n"
            "write_per_type(ctx.output_dir / PER_TYPE_FILE, per_type)\n"
            'pd.DataFrame(per_type).set_index("type").round(4)',
        ),
    ],
    "spectral": [
        (
            "md",
            "# Spectral analysis\n\n"
            "W and W* as N×N matrices (row = target): their 200 largest-magnitude eigenvalues, top-100 singular "
            "values and the alignment of their top-100 singular vectors. Two random unit vectors in N "
            "dimensions have |cos| ≈ √(2/(πN)); the dashed line is the expected best of 100.\n\n"
            "The permutation null (grey) shuffles W's weights among the same edges, three times: it keeps the "
            "graph and the weight distribution and loses which edge has which weight. Sorted singular values "
            "agree well by rank even for it, so W*'s are compared with the null's "
            "(`spectral_singular_values_error` against `_null`), not only with the identity line.",
        ),
        (
            "code",
            "from flygnn.analysis import dynamics_metrics, spectral_metrics\n"
            "from flygnn.figures.spectral import dynamics_figure, spectral_figure\n\n"
            "spectra = ctx.spectral()\n"
            "spectral = spectral_metrics(spectra)\n" + save("spectral_figure(spectra, spectral, ctx.label)", SPECTRAL),
        ),
        (
            "md",
            "## Linearised dynamics\n\n"
            "The dynamics dv/dt = (−v + V_rest + W ReLU(v) + I)/τ linearised at the mean training voltage μ have "
            "the Jacobian J = diag(1/τ)(−I + W·D), D = diag(ReLU′(μ)). A neuron with μ ≤ 0 adds exactly −1/τ to "
            "its spectrum, so J is taken on the neurons with μ > 0. True: τ and W; learned: τ̂ = −1/s_f and W* "
            "(the neurons and edges where both are defined). The 100 rightmost eigenvalues are the slowest, "
            "least stable modes; `jacobian_spectral_abscissa_*` is the largest real part (< 0: stable).",
        ),
        (
            "code",
            "dynamics = ctx.dynamics()\n"
            "linearised = dynamics_metrics(dynamics)\n"
            + save("dynamics_figure(dynamics, linearised, ctx.label)", SPECTRAL_DYNAMICS),
        ),
        ("code", 'ctx.write_metrics("spectral", spectral | linearised)'),
    ],
}


def build(section: str) -> nbformat.NotebookNode:
    """The notebook of ``section`` (deterministic: same cells, same ids, no outputs).

    Raises ValueError when its cells do not save exactly the figure families of the section.
    """
    families = [f.name for s in BOOK_SECTIONS if s.name == section for f in s.figures]
    saved = [name for kind, source in CELLS[section] if kind == "code" for name in SAVED.findall(source)]
    if saved != families:
        raise ValueError(f"the {section} notebook saves {saved}, but flygnn.sections lists {families} for it")
    cells = [
        new_code_cell(EXAMPLE.cell(), metadata={"tags": ["parameters"]}),
        new_code_cell(SETUP),
    ]
    for kind, source in CELLS[section]:
        cells.append(new_markdown_cell(source) if kind == "md" else new_code_cell(source))
    cells.insert(0, cells.pop(2))  # the title comes first, then parameters and setup
    for number, cell in enumerate(cells):
        cell["id"] = f"{section}-{number}"
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def text(section: str) -> str:
    return nbformat.writes(build(section)) + "\n"


def main(directory: Path = HERE) -> list[Path]:
    names = [s.name for s in BOOK_SECTIONS]
    if sorted(names) != sorted(CELLS):
        sys.exit(f"sections differ from flygnn.sections: {sorted(names)} vs {sorted(CELLS)}")
    paths = []
    for name in names:
        path = directory / f"{name}.ipynb"
        path.write_text(text(name))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in main():
        print(written)
