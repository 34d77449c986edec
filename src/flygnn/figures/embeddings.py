"""Learned neuron embeddings, where the types lie in their UMAP, and the GMM clusters against the types.

``embeddings`` draws the first two principal components of a for every embedding
dimension d; ``embeddings-pairs`` draws every pair of the d dimensions themselves. The
embedding has no physical unit (a.u.), and each condition learned its own: their axes
do not compare and are not shared. ``umap-types`` labels each type at its median in the
UMAP; ``umap-clusters`` is the matrix of GMM clusters against types behind the
clustering accuracy, on fixed axes (types × components, shares in [0, 1]).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from flygnn.figures.style import add_type_legend, subplots, type_colors
from flygnn.metric_format import format_value

# One embedding panel: the book prints three side by side, each about 2.1 in wide, so it is drawn
# little wider than that (its 9 pt text prints at 6.5 pt or more; tests/test_notebooks.py checks it).
EMBEDDING_FIGSIZE = (2.9, 2.7)


def scatter_by_type(
    ax, x: np.ndarray, y: np.ndarray, neuron_type: np.ndarray, n_types: int, size: float = 2.0, alpha: float = 0.7
) -> None:
    """Points coloured by type, drawn in a shuffled order so no type hides the others."""
    colors = np.array(type_colors(n_types))
    order = np.random.default_rng(0).permutation(len(x))
    ax.scatter(x[order], y[order], c=colors[neuron_type[order]], s=size, alpha=alpha, linewidths=0, rasterized=True)


def embeddings_figure(
    components: np.ndarray,
    explained: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    embedding_dim: int,
) -> Figure:
    """The first two principal components of the embedding a (``components`` (N, 2) and their
    explained variance ratios (2,), from :func:`flygnn.analysis.principal_components`), coloured
    by type. One panel for every d; for d = 1 the single component against the type."""
    n = len(components)
    fig, ax = subplots(figsize=EMBEDDING_FIGSIZE)
    if components.shape[1] == 1:
        scatter_by_type(ax, components[:, 0], neuron_type.astype(float), neuron_type, len(type_names))
        ax.set_xlabel("$a_0$ − mean (a.u.)")
        ax.set_ylabel("type index")
    else:
        scatter_by_type(ax, components[:, 0], components[:, 1], neuron_type, len(type_names))
        ax.set_xlabel(f"PC 1 of a (a.u.; {explained[0]:.0%} of variance)")
        ax.set_ylabel(f"PC 2 of a (a.u.; {explained[1]:.0%} of variance)")
    ax.set_title(f"embedding a (d = {embedding_dim}, {n:,} neurons)", fontsize=8)
    fig.tight_layout()
    add_type_legend(fig, type_names, ncol=7)
    return fig


def embeddings_pairs_figure(embedding: np.ndarray, neuron_type: np.ndarray, type_names: Sequence[str]) -> Figure:
    """Every dimension of the learned embedding a (N, d): all pairs of dimensions, coloured by type.

    As wide as one embedding panel whatever d (the book prints the conditions' figures side
    by side): the pairs of d > 2 go two to a row, so the figure grows downwards.
    """
    n, d = embedding.shape
    pairs = list(itertools.combinations(range(d), 2)) if d > 1 else [(0, None)]
    ncols = min(len(pairs), 2)
    nrows = int(np.ceil(len(pairs) / ncols))
    size = EMBEDDING_FIGSIZE if len(pairs) == 1 else (EMBEDDING_FIGSIZE[0], 1.3 * nrows + 0.5)
    fig, axes = subplots(nrows, ncols, figsize=size, squeeze=False)
    for ax, (i, j) in zip(axes.flat, pairs, strict=False):
        if j is None:  # one dimension: a strip per type
            scatter_by_type(ax, embedding[:, 0], neuron_type.astype(float), neuron_type, len(type_names))
            ax.set_xlabel("$a_0$ (a.u.)")
            ax.set_ylabel("type index")
        else:
            scatter_by_type(ax, embedding[:, i], embedding[:, j], neuron_type, len(type_names))
            ax.set_xlabel(f"$a_{i}$ (a.u.)", labelpad=1)
            ax.set_ylabel(f"$a_{j}$ (a.u.)", labelpad=1)
        if len(pairs) > 1:  # small panels: few, smaller tick labels that do not run together
            ax.xaxis.set_major_locator(MaxNLocator(3))
            ax.yaxis.set_major_locator(MaxNLocator(3))
            ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    # printed about 2 in wide: the title on two lines
    title = f"embedding a by pairs of dimensions (d = {d}, {n:,} neurons)".replace(" (", "\n(")
    if len(pairs) == 1:
        axes[0, 0].set_title(title, fontsize=8)
        fig.tight_layout()
    else:  # small panels: little room between them
        fig.suptitle(title, fontsize=8)
        fig.tight_layout(pad=0.4, h_pad=0.3, w_pad=0.3)
    add_type_legend(fig, type_names, ncol=7)
    return fig


def umap_types_figure(xy: np.ndarray, neuron_type: np.ndarray, type_names: Sequence[str]) -> Figure:
    """The UMAP of the clustering features as one labelled point per type: the median position of the
    type's neurons, over all neurons in light grey.

    13,741 points in 65 colours break into hundreds of islands that no colour legend can sort; a
    type's median and its name say where the type lies and which types the features put together.
    UMAP's axes have no units and differ between conditions: no limits are shared.
    """
    n_types = len(type_names)
    colors = type_colors(n_types)
    fig, ax = subplots(figsize=(3.9, 2.6))
    ax.scatter(xy[:, 0], xy[:, 1], s=1.0, color="0.85", linewidths=0, rasterized=True, zorder=1)
    for t in range(n_types):
        members = xy[neuron_type == t]
        if not len(members):
            continue
        x, y = np.median(members, axis=0)
        ax.scatter([x], [y], s=14, color=colors[t], edgecolors="white", linewidths=0.4, zorder=3)
        ax.annotate(
            type_names[t],
            (x, y),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=6.5,
            color=colors[t],
            zorder=4,
        )
    ax.set_title(f"UMAP: median position of each type's neurons ({len(xy):,} neurons in grey)", fontsize=8)
    _umap_axes(ax)
    fig.tight_layout()
    return fig


def cluster_confusion_figure(
    labels: np.ndarray,
    neuron_type: np.ndarray,
    type_names: Sequence[str],
    n_clusters: int,
    scores: dict[str, float],
) -> Figure:
    """Upstream's GMM clusters against the true types: the share of each type's neurons in each cluster,
    rows the types by family, columns the clusters matched to them by the Hungarian assignment of the
    clustering accuracy, then the unmatched ones (:func:`flygnn.analysis.clustering.matched_confusion`).

    A bright diagonal is a type found as one cluster; a row spread over several columns a type split;
    a column with several bright rows types merged. ``n_clusters``: the GMM's components, so that every
    condition's matrix has as many columns. ``scores``: label → the value written to metrics.json,
    written as the book's tables write them.
    """
    from matplotlib.colors import PowerNorm

    from flygnn.analysis.clustering import matched_confusion
    from flygnn.figures.limits import share_axes
    from flygnn.figures.style import family_blocks, type_order

    n_types = len(type_names)
    rows = np.array(type_order(type_names))
    table, _ = matched_confusion(labels, neuron_type, n_types, rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = table / table.sum(axis=1, keepdims=True)
    columns = max(n_clusters, table.shape[1])
    matrix = np.full((n_types, columns), np.nan)
    matrix[:, : table.shape[1]] = np.nan_to_num(share)
    # the scores in a column of their own, right of the colour bar: on the matrix they would hide cells
    fig, (ax, notes) = subplots(1, 2, figsize=(6.6, 2.6), gridspec_kw={"width_ratios": [3.2, 1.0]})
    image = ax.imshow(
        matrix,
        cmap="magma_r",
        norm=PowerNorm(0.5, vmin=0, vmax=1),  # a square root: a few percent of a type still shows
        aspect="auto",
        interpolation="nearest",
        extent=(0.5, columns + 0.5, n_types + 0.5, 0.5),
    )
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="share of the type's neurons\n(dimensionless)")
    # one tick per family, at the middle of its block of rows, and a line between blocks
    position = {t: k + 1 for k, t in enumerate(rows)}
    ticks, names = [], []
    for family, members in family_blocks(type_names):
        where = [position[t] for t in members]
        ticks.append((min(where) + max(where)) / 2)
        names.append(family)
        ax.axhline(max(where) + 0.5, color="0.75", lw=0.4)
    ax.set_yticks(ticks, names, fontsize=6.5)
    ax.tick_params(axis="y", length=0)
    ax.axvline(min(n_types, table.shape[1]) + 0.5, color="0.4", lw=0.6, ls="--")
    ax.set_xlabel("GMM cluster (matched to the row's type, then unmatched)")
    ax.set_ylabel("true cell type (by family)")
    ax.set_title(f"GMM clusters against cell types ({table.shape[1]} non-empty of {n_clusters})", fontsize=8)
    text = "Hungarian accuracy\nagainst the true types:\n" + "\n".join(
        f"{name}:\n  {format_value(value)}" for name, value in scores.items()
    )
    notes.set_axis_off()
    notes.text(0.0, 1.0, text, transform=notes.transAxes, va="top", ha="left", fontsize=7)
    share_axes(ax, "confusion")
    fig.tight_layout()
    return fig


def _umap_axes(ax) -> None:
    ax.set_xlabel("UMAP 1 (no units)")
    ax.set_ylabel("UMAP 2 (no units)")
    ax.set_xticks([])
    ax.set_yticks([])
