"""Learned neuron embeddings and their UMAP, coloured by cell type or GMM cluster.

``embeddings`` draws the first two principal components of a for every embedding
dimension d, so the σ-grid compares like with like; ``embeddings-pairs`` draws every
pair of the d dimensions themselves. The embedding has no physical unit (a.u.).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from flygnn.figures.style import add_type_legend, subplots, type_colors
from flygnn.metric_format import format_value


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
    title: str,
    embedding_dim: int,
) -> Figure:
    """The first two principal components of the embedding a (``components`` (N, 2) and their
    explained variance ratios (2,), from :func:`flygnn.analysis.principal_components`), coloured
    by type. One panel for every d; for d = 1 the single component against the type."""
    n = len(components)
    fig, ax = subplots(figsize=(5.6, 5.0))
    if components.shape[1] == 1:
        scatter_by_type(ax, components[:, 0], neuron_type.astype(float), neuron_type, len(type_names))
        ax.set_xlabel("$a_0$ − mean (a.u.)")
        ax.set_ylabel("type index")
    else:
        scatter_by_type(ax, components[:, 0], components[:, 1], neuron_type, len(type_names))
        ax.set_xlabel(f"PC 1 of a (a.u.; {explained[0]:.0%} of variance)")
        ax.set_ylabel(f"PC 2 of a (a.u.; {explained[1]:.0%} of variance)")
    ax.set_title(f"{title}: embeddings a (d = {embedding_dim}, {n:,} neurons)")
    fig.tight_layout()
    add_type_legend(fig, type_names, ncol=7)
    return fig


def embeddings_pairs_figure(
    embedding: np.ndarray, neuron_type: np.ndarray, type_names: Sequence[str], title: str
) -> Figure:
    """Every dimension of the learned embedding a (N, d): all pairs of dimensions, coloured by type."""
    n, d = embedding.shape
    pairs = list(itertools.combinations(range(d), 2)) if d > 1 else [(0, None)]
    ncols = min(len(pairs), 3)
    nrows = int(np.ceil(len(pairs) / ncols))
    size = (5.6, 5.0) if len(pairs) == 1 else (3.2 * ncols, 3.0 * nrows + 0.4)
    fig, axes = subplots(nrows, ncols, figsize=size, squeeze=False)
    for ax, (i, j) in zip(axes.flat, pairs, strict=False):
        if j is None:  # one dimension: a strip per type
            scatter_by_type(ax, embedding[:, 0], neuron_type.astype(float), neuron_type, len(type_names))
            ax.set_xlabel("$a_0$ (a.u.)")
            ax.set_ylabel("type index")
        else:
            scatter_by_type(ax, embedding[:, i], embedding[:, j], neuron_type, len(type_names))
            ax.set_xlabel(f"$a_{i}$ (a.u.)")
            ax.set_ylabel(f"$a_{j}$ (a.u.)")
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    fig.suptitle(f"{title}: embedding dimensions by pairs (d = {d}, {n:,} neurons)")
    fig.tight_layout()
    add_type_legend(fig, type_names, ncol=7 if len(pairs) == 1 else 9)
    return fig


def umap_types_figure(xy: np.ndarray, neuron_type: np.ndarray, type_names: Sequence[str], title: str) -> Figure:
    """UMAP of the clustering features coloured by the true cell type."""
    fig, ax = subplots(figsize=(5.6, 5.0))
    scatter_by_type(ax, xy[:, 0], xy[:, 1], neuron_type, len(type_names), size=2.5)
    _umap_axes(ax, f"{title}: UMAP by cell type")
    fig.tight_layout()
    add_type_legend(fig, type_names, ncol=7)
    return fig


def umap_clusters_figure(xy: np.ndarray, labels: np.ndarray, title: str, scores: dict[str, float]) -> Figure:
    """The same UMAP coloured by GMM cluster, with the clustering scores (``scores``: label → the value
    written to metrics.json), written as the book's tables write them."""
    clusters, index = np.unique(labels, return_inverse=True)
    palette = np.array(type_colors(min(len(clusters), 256)))
    colors = palette[index % len(palette)]
    order = np.random.default_rng(0).permutation(len(xy))
    # compact, with the scores at the axis labels' size: the book shows it three across a page
    fig, ax = subplots(figsize=(4.4, 5.0))
    ax.scatter(xy[order, 0], xy[order, 1], c=colors[order], s=2.5, alpha=0.7, linewidths=0, rasterized=True)
    _umap_axes(ax, f"{title}:\nUMAP by GMM cluster ({len(clusters)} clusters)")
    # below the axes, where it hides no point
    text = "Hungarian accuracy against the true types:\n" + "\n".join(
        f"  {name}: {format_value(value)}" for name, value in scores.items()
    )
    ax.text(0.0, -0.06, text, transform=ax.transAxes, va="top", ha="left", fontsize=ax.xaxis.label.get_size())
    fig.tight_layout()
    return fig


def _umap_axes(ax, title: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("UMAP 1 (no units)")
    ax.set_ylabel("UMAP 2 (no units)")
    ax.set_xticks([])
    ax.set_yticks([])
