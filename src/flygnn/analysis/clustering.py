"""Does the model know cell types? GMM clustering of per-neuron features against the truth.

Features per neuron: the learned embedding a_i (all d dimensions), τ̂_i, V̂_rest,i,
and the mean and standard deviation of its incoming and outgoing W*.

Upstream's ``clustering_accuracy`` (:meth:`TypeClustering.upstream`): one GMM with 100
components (full covariance, random_state 42, scikit-learn's defaults otherwise) on the
unscaled features of upstream's estimates. Ours beside it: the features standardised
(z-scores) — unscaled, whichever feature has the largest units decides the clusters —
and several seeds. Each fit is scored by the Hungarian one-to-one match of clusters to
the 65 types, the adjusted Rand index, normalised mutual information and purity.

Two controls say what the accuracy means: the same upstream GMM on the embedding a
alone (what the GNN's type code knows without the derived parameters), and on the
true parameters (:func:`true_parameter_features`: true τ, V_rest and true W in/out
statistics — what these features can tell apart at best with this clustering).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from flygnn.analysis.threads import fixed_threads
from flygnn.errors import FlygnnError

FEATURE_NAMES_AFTER_EMBEDDING = ("tau", "v_rest", "W_in_mean", "W_in_std", "W_out_mean", "W_out_std")


def _edge_stats(values: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the finite ``values`` grouped by ``owner``; 0 for a neuron with none."""
    finite = np.isfinite(values)
    owner, values = owner[finite], values[finite]
    count = np.bincount(owner, minlength=n).astype(np.float64)
    total = np.bincount(owner, weights=values, minlength=n)
    squares = np.bincount(owner, weights=values * values, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        var = np.where(count > 0, squares / np.maximum(count, 1) - mean**2, 0.0)
    return mean, np.sqrt(np.maximum(var, 0.0))


def clustering_features(
    embedding: np.ndarray,
    tau: np.ndarray,
    v_rest: np.ndarray,
    corrected_W: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """(N, d + 6) raw features and their names.

    embedding: (N, d) learned a; tau, v_rest: (N,) estimates; corrected_W: (E,) W*,
    edge e from source[e] to target[e]. Non-finite W* are left out of the edge
    statistics; a neuron without incoming (outgoing) edges has mean and std 0 there.
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    n, d = embedding.shape
    w_in = _edge_stats(np.asarray(corrected_W, float), np.asarray(target), n)
    w_out = _edge_stats(np.asarray(corrected_W, float), np.asarray(source), n)
    columns = [embedding, np.asarray(tau, float)[:, None], np.asarray(v_rest, float)[:, None]]
    columns += [x[:, None] for x in (*w_in, *w_out)]
    names = [f"a{k}" for k in range(d)] + list(FEATURE_NAMES_AFTER_EMBEDDING)
    return np.hstack(columns), names


def true_parameter_features(
    tau: np.ndarray, v_rest: np.ndarray, W: np.ndarray, source: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """(N, 6) features of :func:`clustering_features` without an embedding: the true τ, V_rest
    (N,) and the mean/std of the true incoming and outgoing W (E,)."""
    tau = np.asarray(tau, dtype=np.float64)
    return clustering_features(np.empty((tau.size, 0)), tau, v_rest, W, source, target)


def principal_components(embedding: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, k), explained variance ratio (k,)) of the centred embedding (N, d), k = min(n_components, d).

    The axes are the directions of largest variance; for d = 2 a rotation of a itself. Each
    axis' sign is fixed so that its largest loading is positive (deterministic across runs).
    """
    centred = np.asarray(embedding, dtype=np.float64)
    centred = centred - centred.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, centred.shape[1])
    axes = vt[:k] * np.sign(vt[:k][np.arange(k), np.abs(vt[:k]).argmax(axis=1)])[:, None]
    variance = singular**2
    total = variance.sum()
    ratio = variance[:k] / total if total > 0 else np.zeros(k)
    return centred @ axes.T, ratio


def impute(features: np.ndarray) -> tuple[np.ndarray, int]:
    """Features with non-finite entries replaced by their column median, and how many were replaced."""
    features = np.array(features, dtype=np.float64)
    bad = ~np.isfinite(features)
    if bad.all(axis=0).any():
        raise FlygnnError("a clustering feature is NaN for every neuron; the model's estimates are unusable.")
    if bad.any():
        medians = np.nanmedian(np.where(bad, np.nan, features), axis=0)
        features[bad] = np.take(medians, np.nonzero(bad)[1])
    return features, int(bad.sum())


def standardize(features: np.ndarray) -> tuple[np.ndarray, int]:
    """Z-scored features with non-finite entries replaced by their column median.

    Returns (features, number of entries replaced). Constant columns become 0.
    """
    features, replaced = impute(features)
    std = features.std(axis=0)
    return (features - features.mean(axis=0)) / np.where(std > 0, std, 1.0), replaced


def contingency(labels: np.ndarray, types: np.ndarray) -> np.ndarray:
    """(n_clusters, n_types) counts of neurons per (cluster, type)."""
    labels = np.unique(labels, return_inverse=True)[1]
    types = np.asarray(types)
    table = np.zeros((labels.max() + 1, types.max() + 1), dtype=np.int64)
    np.add.at(table, (labels, types), 1)
    return table


def hungarian_accuracy(labels: np.ndarray, types: np.ndarray) -> float:
    """Fraction of neurons in clusters matched one-to-one to their type (Hungarian, maximal overlap)."""
    table = contingency(labels, types)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(types))


def matched_confusion(
    labels: np.ndarray, types: np.ndarray, n_types: int, type_rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The clusters against the types as :func:`hungarian_accuracy` scores them.

    Returns (table, columns): ``table`` (n_types, n_clusters) counts of neurons, rows the types in the
    order ``type_rows`` (default 0 … n_types − 1), columns first the clusters the Hungarian assignment
    matched to a type, in the order of their rows (with at least as many clusters as types, column k
    is row k's match and the diagonal sums to the matched neurons: accuracy × N), then the unmatched
    clusters, each by the row of its most common type.
    ``columns``: (n_clusters,) the cluster label of each column.
    """
    clusters, index = np.unique(labels, return_inverse=True)
    types = np.asarray(types)
    rows = np.arange(n_types) if type_rows is None else np.asarray(type_rows)
    counts = np.zeros((n_types, clusters.size), dtype=np.int64)
    np.add.at(counts, (types, index), 1)
    counts = counts[rows]
    matched_rows, matched_columns = linear_sum_assignment(counts, maximize=True)
    order = sorted(zip(matched_rows, matched_columns, strict=True))
    unmatched = [c for c in range(clusters.size) if c not in set(matched_columns)]
    # an unmatched cluster sits after the matched ones, beside the row it mostly holds
    unmatched.sort(key=lambda c: (int(np.argmax(counts[:, c])), -int(counts[:, c].sum())))
    column_order = [c for _, c in order] + unmatched
    return counts[:, column_order], clusters[column_order]


def purity(labels: np.ndarray, types: np.ndarray) -> float:
    """Fraction of neurons whose cluster's most common type is their own."""
    return float(contingency(labels, types).max(axis=1).sum() / len(types))


def cluster_scores(labels: np.ndarray, types: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": hungarian_accuracy(labels, types),
        "ari": float(adjusted_rand_score(types, labels)),
        "nmi": float(normalized_mutual_info_score(types, labels)),
        "purity": purity(labels, types),
    }


class TypeClustering:
    """GMM clustering of per-neuron features, scored against the true types over one or more seeds.

    Args:
        n_components: GMM components (upstream: 100).
        seeds: one GMM fit per seed; scores are reported as mean and std over seeds.
        standardize: z-score the features first (ours) or cluster them unscaled (upstream).
        n_init, max_iter, covariance_type, init_params, reg_covar: passed to
            ``sklearn.mixture.GaussianMixture``. Ours is initialised by k-means++ seeding (as
            good here as a full k-means run, half the time) with reg_covar 1e-4, which keeps
            tight clusters of standardised features from going singular.
        blas_threads: BLAS threads while fitting. The GMM's many small matrix products ran
            8x faster on one thread than on two on a shared 2-core machine (6 s vs 50 s).

    Attributes after :meth:`fit`:
        labels_: (N,) cluster of each neuron from the first seed (the one drawn).
        scores_: {"accuracy", "ari", "nmi", "purity"} -> (n_seeds,) per-seed scores.
        accuracy_, accuracy_std_, ari_, nmi_, purity_: means (and std) over seeds.
        imputed_: number of non-finite feature entries replaced by their column median.
    """

    def __init__(
        self,
        n_components: int = 100,
        seeds: tuple[int, ...] = (0, 1, 2),
        n_init: int = 1,
        max_iter: int = 100,
        covariance_type: str = "full",
        blas_threads: int | None = 1,
        standardize: bool = True,
        init_params: str = "k-means++",
        reg_covar: float = 1e-4,
    ) -> None:
        self.n_components = n_components
        self.blas_threads = blas_threads
        self.seeds = seeds
        self.n_init = n_init
        self.max_iter = max_iter
        self.covariance_type = covariance_type
        self.standardize = standardize
        self.init_params = init_params
        self.reg_covar = reg_covar

    @classmethod
    def upstream(cls) -> TypeClustering:
        """Upstream's clustering: one GaussianMixture(100, "full", random_state=42), defaults otherwise, unscaled."""
        return cls(seeds=(42,), standardize=False, init_params="kmeans", reg_covar=1e-6)

    def fit(self, features: np.ndarray, types: np.ndarray) -> TypeClustering:
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        types = np.asarray(types)
        if len(features) != len(types):
            raise FlygnnError(f"{len(features)} feature rows but {len(types)} neuron types.")
        if len(features) < self.n_components:
            raise FlygnnError(f"{len(features)} neurons are too few for a GMM with {self.n_components} components.")
        scaled, self.imputed_ = standardize(features) if self.standardize else impute(features)
        per_seed: dict[str, list[float]] = {"accuracy": [], "ari": [], "nmi": [], "purity": []}
        for k, seed in enumerate(self.seeds):
            gmm = GaussianMixture(
                n_components=self.n_components,
                covariance_type=self.covariance_type,
                n_init=self.n_init,
                max_iter=self.max_iter,
                init_params=self.init_params,
                reg_covar=self.reg_covar,
                random_state=seed,
            )
            with threadpool_limits(limits=self.blas_threads):
                labels = gmm.fit_predict(scaled)
            if k == 0:
                self.labels_ = labels
            for name, value in cluster_scores(labels, types).items():
                per_seed[name].append(value)
        self.scores_ = {name: np.array(values) for name, values in per_seed.items()}
        self.accuracy_ = float(self.scores_["accuracy"].mean())
        self.accuracy_std_ = float(self.scores_["accuracy"].std())
        self.ari_ = float(self.scores_["ari"].mean())
        self.nmi_ = float(self.scores_["nmi"].mean())
        self.purity_ = float(self.scores_["purity"].mean())
        return self


def umap_embedding(features: np.ndarray, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0) -> np.ndarray:
    """(N, 2) UMAP of the standardised features, for display only.

    The exact k-nearest-neighbour graph comes from scikit-learn (a k-d tree: a
    fraction of a second for 13,741 × ~10 features) and is handed to UMAP, which
    then skips NN-descent — whose numba compilation, repeated in every new process,
    cost minutes here.
    """
    import warnings

    with warnings.catch_warnings():
        # umap imports tqdm.auto, which in a Jupyter kernel without ipywidgets warns and falls
        # back to the text bar; UMAP draws no bar here (verbose=False), so there is nothing to fix
        warnings.filterwarnings("ignore", message="IProgress not found")
        import umap
    from sklearn.neighbors import NearestNeighbors

    scaled, _ = standardize(features)
    n_neighbors = min(n_neighbors, len(scaled) - 1)
    distances, indices = NearestNeighbors(n_neighbors=n_neighbors).fit(scaled).kneighbors(scaled)
    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        random_state=seed,
        n_components=2,
        precomputed_knn=(indices, distances),
    )
    # the seed keeps UMAP on one numba thread; its spectral start (ARPACK) runs on BLAS,
    # whose long dot products round differently on another number of threads
    with fixed_threads(), warnings.catch_warnings():
        # both are intended: a fixed seed, and no transform() of new data
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
        return reducer.fit_transform(scaled).astype(np.float64)
