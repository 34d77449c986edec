# %% [markdown]
# # Biophysical parameters
#
# τ̂_i = −1/s_f(i) and V̂_rest,i = −b_i/s_f(i) from the line fitted to f_θ(v, a_i, 0, 0) over the natural range. The truth is per type, so per-type medians are shown beside the per-neuron values. `tau_R2` and `V_rest_R2` follow upstream's rules: τ̂ clipped to [0, 1] s, and τ̂ = V̂_rest = 1 for a neuron whose voltage never varied (slope 0); `_excluding_zero_range` leaves those out. The per-neuron panel draws the values `tau_R2` scores, those neurons included (hollow, at τ̂ = 1); the per-type panels the medians of the unclipped estimates, which `_R2_per_type` scores. The axes come from the truth, the same for every σ; an estimate beyond is drawn at the edge and counted. τ is in seconds; flyvis' voltages, and so V_rest, in arbitrary units (a.u.).

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
from flygnn.analysis import biophysics_metrics
from flygnn.figures.biophysics import parameter_figure

bio, truth = ctx.biophysics(), ctx.ground_truth
metrics = biophysics_metrics(truth.tau, truth.v_rest, bio, ctx.gauge().zero_range_, ctx.neuron_type)
zero_range = ctx.gauge().zero_range_
ctx.save_figure(
    parameter_figure(
        truth.tau,
        bio.upstream_tau_,
        bio.tau_,
        ctx.neuron_type,
        ctx.type_names,
        "τ",
        "s",
        metrics,
        "tau",
        filled=zero_range,
        floor=0.0,
    ),
    "tau",
)

# %% [markdown]
# ## Resting potentials
#
# Upstream reads V_rest at msg = 0 in model units, which is not "no input" when g_φ² has an offset. The third panel reads it at the operating point: f_θ linearised at each sampled frame and solved for dv/dt = 0 with the msg of all-zero presynaptic voltages and no stimulus.

# %%
ctx.save_figure(
    parameter_figure(
        truth.v_rest,
        bio.upstream_v_rest_,
        bio.v_rest_,
        ctx.neuron_type,
        ctx.type_names,
        "V_rest",
        "a.u.",
        metrics,
        "V_rest",
        filled=zero_range,
        extra=("operating point", bio.v_rest_operating_, "V_rest_operating"),
    ),
    "v-rest",
)

# %%
ctx.write_metrics("biophysics", metrics)

# %% [markdown]
# ## Per cell type
#
# The truth is one τ and one V_rest per type, so the book's per-type table (`per-type.csv`) gives, per type, the median of the upstream-rule τ̂ and V̂_rest beside the truth, and the R² (upstream's) of W* against W over the edges into the type's neurons (|W* − W| ≤ 5), with the counts that explain them: neurons without incoming edge, neurons whose voltage never varied (τ̂ = V̂_rest = 1 by upstream's rules) and neurons with μ + s ≤ 0 (outgoing weights not identifiable).

# %%
import pandas as pd

from flygnn.analysis.per_type import PER_TYPE_FILE, per_type_recovery, write_per_type

gauge = ctx.gauge()
per_type = per_type_recovery(
    ctx.type_names,
    ctx.neuron_type,
    ctx.network.target,
    truth.tau,
    truth.v_rest,
    truth.W,
    bio.upstream_tau_,
    bio.upstream_v_rest_,
    gauge.upstream_corrected_W_,
    gauge.zero_range_,
    gauge.unidentifiable_,
)
write_per_type(ctx.output_dir / PER_TYPE_FILE, per_type)
pd.DataFrame(per_type).set_index("type").round(4)
