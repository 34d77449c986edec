# %% [markdown]
# # Held-out and functional validation
#
# Table 1 asks whether the learned parameters match the true ones. This notebook asks whether the learned network *behaves* like the true one, on data it never saw.
#
# **Held out.** A new simulation of this condition — the ground truth and σ it was trained at, stimulus images from the test split (never in training), noise of its own seed — starting, like every test split, from the noise-free grey steady state. One step: the learned dv̂/dt against the recorded clean dv/dt at the recorded states (`heldout_dvdt_R2`, and `heldout_normalised_loss`, each neuron's MSE divided by its target's variance: a loss that compares across σ, unlike the training loss). Rollout: the learned network run on its own, without noise, beside the true noise-free dynamics from the same start on the same input; each neuron's error divided by the std of its true trace. At σ > 0 the recording itself leaves the noise-free trajectory: `rollout_noise_error_mean` says how far.
#
# **Functional.** Both networks see flyvis' probes — ON and OFF edges moving in 12 directions, and ON and OFF flashes — from V_rest after settling on grey, read at the central-column neuron of each type: flyvis' direction selectivity index (DSI, per edge polarity), preferred direction and flash response index (FRI). The edges run at the three fastest of flyvis' six speeds (13, 19, 25 columns/s): the slow ones take most of the frames and add little to the indices.

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
import tempfile

from flygnn.analysis.heldout import HeldOutValidation
from flygnn.figures.heldout import ERROR_LIMITS, plot_rollout

with tempfile.TemporaryDirectory() as folder:
    heldout_data = ctx.heldout_dataset(folder)
    heldout = HeldOutValidation(rollout_steps=250).fit(ctx.model, heldout_data, ctx.network)
    dt = heldout_data.dt
ctx.save_figure(plot_rollout(heldout, error_limits=ERROR_LIMITS, voltage_limits="truth"), "rollout")

# %% [markdown]
# ## Direction selectivity and ON/OFF preference

# %%
from flygnn.analysis.functional import FunctionalValidation
from flygnn.analysis.probes import SPEEDS
from flygnn.figures.functional import plot_direction_selectivity

functional = FunctionalValidation(speeds=SPEEDS[-3:]).fit(ctx.model, ctx.network, ctx.ground_truth, dt)
ctx.save_figure(plot_direction_selectivity(functional), "direction-selectivity")

# %%
ctx.write_metrics("validation", heldout.metrics | functional.metrics)

# %% [markdown]
# ## Per cell type
#
# One-step R² (median over the type's neurons) and rollout error of each type, beside its indices in the true and the learned network.

# %%
import pandas as pd

per_type = pd.DataFrame(heldout.per_type_table()).merge(pd.DataFrame(functional.per_type_table()), on="type")
per_type.set_index("type").round(3)
