# %% [markdown]
# # Spectral analysis
#
# W and W* as N×N matrices (row = target): their 200 largest-magnitude eigenvalues, top-100 singular values and the alignment of their top-100 singular vectors. Two random unit vectors in N dimensions have |cos| ≈ √(2/(πN)); the dashed line is the expected best of 100.
#
# The permutation null (grey) shuffles W's weights among the same edges, three times: it keeps the graph and the weight distribution and loses which edge has which weight. Sorted singular values agree well by rank even for it, so W*'s are compared with the null's (`spectral_singular_values_error` against `_null`), not only with the identity line.

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
from flygnn.analysis import dynamics_metrics, spectral_metrics
from flygnn.figures.spectral import alignment_figure, dynamics_figure, spectral_figure

spectra = ctx.spectral()
spectral = spectral_metrics(spectra)
ctx.save_figure(spectral_figure(spectra, spectral), "spectral")
ctx.save_figure(alignment_figure(spectra), "spectral-alignment")

# %% [markdown]
# ## Linearised dynamics
#
# The dynamics dv/dt = (−v + V_rest + W ReLU(v) + I)/τ linearised at the mean training voltage μ have the Jacobian J = diag(1/τ)(−I + W·D), D = diag(ReLU′(μ)). A neuron with μ ≤ 0 adds exactly −1/τ to its spectrum, so J is taken on the neurons with μ > 0. True: τ and W; learned: τ̂ = −1/s_f and W* (the neurons and edges where both are defined). The 100 rightmost eigenvalues are the slowest, least stable modes; `jacobian_spectral_abscissa_*` is the largest real part (< 0: stable).

# %%
dynamics = ctx.dynamics()
linearised = dynamics_metrics(dynamics)
ctx.save_figure(dynamics_figure(dynamics, linearised, ctx.ground_truth.tau), "spectral-dynamics")

# %%
ctx.write_metrics("spectral", spectral | linearised)
