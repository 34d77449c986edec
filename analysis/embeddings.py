# %% [markdown]
# # Neural embeddings and clustering
#
# Each neuron's learned embedding a_i, coloured by the true cell type: first its two principal components (the same picture for every embedding dimension d), then every pair of its dimensions.

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
from flygnn.analysis import clustering_control_metrics, clustering_metrics, principal_components
from flygnn.analysis.clustering import TypeClustering
from flygnn.figures.embeddings import (
    cluster_confusion_figure,
    embeddings_figure,
    embeddings_pairs_figure,
    umap_types_figure,
)

embedding = ctx.model.a.detach().numpy()
components, explained = principal_components(embedding)
ctx.save_figure(
    embeddings_figure(components, explained, ctx.neuron_type, ctx.type_names, embedding.shape[1]),
    "embeddings",
)
ctx.save_figure(embeddings_pairs_figure(embedding, ctx.neuron_type, ctx.type_names), "embeddings-pairs")

# %% [markdown]
# ## Clustering
#
# `clustering_accuracy` is upstream's: one GMM with 100 components (random_state 42) on the unscaled features [a_i, τ̂_i, V̂_rest,i, mean and std of incoming and outgoing W*] by upstream's rules, scored by the Hungarian one-to-one match of clusters to the 65 types. Beside it, ours: the same features standardised (unscaled, the feature with the largest units decides) over three seeds, with ARI, NMI and purity. UMAP (15 neighbours, min_dist 0.1) of the standardised features is for display: each type's name at the median of its neurons (13,741 points in 65 colours break into hundreds of islands no legend sorts out). The second figure is what `clustering_accuracy` counts: the share of each type's neurons in each of upstream's clusters, the clusters matched to the types by the Hungarian assignment on the diagonal.
#
# What the accuracy means, with the same upstream GMM: on the embedding a alone (`clustering_accuracy_embedding_only`: what the type code knows without τ̂, V̂_rest and W*), and on the true parameters (`clustering_accuracy_true_parameters`: true τ, V_rest and the mean/std of the true incoming and outgoing W — what perfectly recovered parameters would give with this clustering).

# %%
clusters, controls = ctx.clustering(), ctx.clustering_controls()
ctx.save_figure(umap_types_figure(clusters["umap"], ctx.neuron_type, ctx.type_names), "umap-types")
scores = {
    "clustering_accuracy (upstream)": clusters["upstream_accuracy"],
    "standardised, 3 seeds": float(clusters["scores"]["accuracy"].mean()),
    "upstream GMM on a alone": controls["embedding_accuracy"],
    "upstream GMM on the true parameters": controls["true_parameters_accuracy"],
}
ctx.save_figure(
    cluster_confusion_figure(
        clusters["upstream_labels"], ctx.neuron_type, ctx.type_names, TypeClustering.upstream().n_components, scores
    ),
    "umap-clusters",
)

# %%
metrics = clustering_metrics(clusters["upstream_accuracy"], clusters["scores"], clusters["imputed"])
metrics |= clustering_control_metrics(controls["embedding_accuracy"], controls["true_parameters_accuracy"])
ctx.write_metrics("embeddings", metrics)
