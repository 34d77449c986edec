# %% [markdown]
# # Connectivity recovery
#
# Does the GNN recover the 434,112 synaptic weights? The learned Ŵ is only defined up to the model's gauge: a gain of g_φ or of f_θ's sensitivity to msg trades with Ŵ, and W enters the dynamics divided by τ.

# %% tags=["parameters"]
condition = "sigma-0p05"
sigma = 0.05
bundle = "data/bundles/sigma-0p05"
output_dir = "results/sigma-0p05"
dataset = ""
flyvis_model = ""
synthetic_groundtruth = False

# %%
from flygnn.notebook.context import load_context
from flygnn.notebook.parameters import NotebookParameters

ctx = load_context(
    NotebookParameters(condition, sigma, bundle, output_dir, dataset, flyvis_model, synthetic_groundtruth)
)
print(ctx.label, "—", ctx.network.n_neurons, "neurons,", ctx.network.n_edges, "edges")

# %%
from flygnn.analysis import gauge_metrics, weight_metrics
from flygnn.figures.weights import corrected_weights_figure, raw_weights_figure

gauge = ctx.gauge()
true_W = ctx.ground_truth.W
weights = weight_metrics(true_W, gauge)
ctx.save_figure(raw_weights_figure(true_W, gauge.learned_W_, weights), "weights-raw")

# %% [markdown]
# ## Gauge-corrected weights
#
# W*ₑ = −Ŵₑ / s_f(i) · ∂f/∂msg|ᵢ · s_g(j), with s_g and s_f the slopes of g_φ² and f_θ over each neuron's natural range (μ ± 2s, 1000 points) and ∂f/∂msg the median over the bundle's sampled training frames. `W_corrected_R2` and `W_corrected_slope` follow upstream's rules: s_g = 1 for the neurons with μ + s ≤ 0 (whose gain cannot be read) and their edges scored, undefined W* set to 0, edges with |W* − W| ≤ 5. `W_corrected_R2_identifiable` leaves the undefined W* out instead; `W_corrected_R2_small_weights` keeps upstream's rules but leaves out the few edges with |W| ≥ 1, which span most of W's range and so dominate the R².
#
# Both figures draw the edges as a density (hexagons coloured by the number of edges, log scale); the right panel enlarges the core |W| < 0.5, which holds about 98 % of the edges. Both axes span the true W's range, the same for every σ; a learned weight beyond is drawn at the edge (orange triangles) and counted.

# %%
ctx.save_figure(corrected_weights_figure(true_W, gauge.upstream_corrected_W_, weights), "weights-corrected")

# %% [markdown]
# ## Metrics
#
# Upstream-named metrics first; the identity-line R², the identifiable-edges and unfiltered scores and the counts are reported beside them.

# %%
ctx.write_metrics("connectivity", weights | gauge_metrics(gauge))
