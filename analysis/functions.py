# %% [markdown]
# # Learned functions
#
# f_θ(v, a_i, msg = 0, I = 0) per neuron over its natural range μ ± 2s, beside the simulator's (V_rest − v)/τ. Both are in dv/dt units: a.u./s, flyvis' voltages being in arbitrary units (a.u.). The axes are linear and come from the truth, the same for every σ: x the voltage window that holds every neuron's range (rounded outwards to 1, 2, 2.5, 5 or 7.5 × 10^k), y the range of the true function over it; a learned curve beyond runs along the edge, marked with a triangle where it is furthest out, and is counted.

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
from flygnn.analysis import function_metrics
from flygnn.figures.functions import message_function_figure, update_function_figure

curves = ctx.function_curves()
ctx.save_figure(
    update_function_figure(curves.voltages_, curves.update_, curves.true_update_, ctx.neuron_type, ctx.type_names),
    "f-theta",
)

# %% [markdown]
# ## Message function
#
# g_φ(v, a_j)² divided by its slope s_g(j) over the rectified natural range — the gain that trades with Ŵ — so every curve is normalised to slope 1 there and only its shape is compared with the simulator's ReLU(v). Neurons whose gain is unidentifiable (μ + s ≤ 0: they never drive the ReLU, s_g undefined) are left out of the learned panel, which counts them.

# %%
message_slope = ctx.gauge().message_slope_
ctx.save_figure(
    message_function_figure(curves.voltages_, curves.message_, message_slope, ctx.neuron_type, ctx.type_names),
    "g-phi",
)

# %%
ctx.write_metrics("functions", function_metrics(curves, message_slope))
