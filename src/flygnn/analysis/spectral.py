"""Spectra of the true and the corrected weight matrix.

W and W* as N×N sparse matrices (row = target i, column = source j): the largest-
magnitude eigenvalues, the top singular values, and how well the top singular
vectors of W* align with those of W. Two random unit vectors in N dimensions have
|cosine| ≈ √(2/(πN)) on average (0.007 at N = 13,741); the best of k random
vectors is larger — that, not a fixed number, is the baseline for "best alignment".
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from scipy import integrate, special

from flygnn.errors import FlygnnError

DENSE_BELOW = 1500  # neurons: below this a dense decomposition is exact and fast


def weight_matrix(W: np.ndarray, source: np.ndarray, target: np.ndarray, n_neurons: int) -> tuple[scipy.sparse.csr_matrix, int]:
    """(N×N CSR with A[i, j] = Σ W_e over edges j→i, number of non-finite weights left out)."""
    W = np.asarray(W, dtype=np.float64)
    finite = np.isfinite(W)
    matrix = scipy.sparse.csr_matrix(
        (W[finite], (np.asarray(target)[finite], np.asarray(source)[finite])), shape=(n_neurons, n_neurons)
    )
    return matrix, int((~finite).sum())


def random_alignment_baseline(n_dimensions: int, k: int) -> tuple[float, float]:
    """(mean |cos|, expected best |cos| among k) of random unit vectors in ``n_dimensions``.

    A coordinate of a random unit vector is ≈ N(0, 1/N) for large N, so |cos| is
    half-normal with scale 1/√N: mean √(2/(πN)); the maximum of k independent ones
    has expectation ∫₀^∞ 1 − erf(x/√2)^k dx / √N.
    """
    mean = np.sqrt(2.0 / (np.pi * n_dimensions))
    best, _ = integrate.quad(lambda x: 1.0 - special.erf(x / np.sqrt(2.0)) ** k, 0.0, np.inf)
    return float(mean), float(best / np.sqrt(n_dimensions))


def _by_magnitude(eigenvalues: np.ndarray) -> np.ndarray:
    return eigenvalues[np.argsort(-np.abs(eigenvalues), kind="stable")]


def top_eigenvalues(matrix: scipy.sparse.spmatrix, k: int, dense: bool, seed: int = 0) -> np.ndarray:
    """The k largest-magnitude eigenvalues (complex), by decreasing magnitude."""
    if dense:
        return _by_magnitude(np.linalg.eigvals(matrix.toarray()))[:k]
    rng = np.random.default_rng(seed)
    values = scipy.sparse.linalg.eigs(
        matrix, k=k, which="LM", v0=rng.normal(size=matrix.shape[0]), return_eigenvectors=False, maxiter=20000, tol=1e-8
    )
    return _by_magnitude(values)


def top_singular(matrix: scipy.sparse.spmatrix, k: int, dense: bool, seed: int = 0):
    """(U (N, k), s (k,), Vt (k, N)): the top-k singular triplets, decreasing s."""
    if dense:
        u, s, vt = np.linalg.svd(matrix.toarray())
        return u[:, :k], s[:k], vt[:k]
    u, s, vt = scipy.sparse.linalg.svds(matrix, k=k, random_state=seed, maxiter=20000)
    order = np.argsort(-s)
    return u[:, order], s[order], vt[order]


class SpectralAnalysis:
    """Eigenvalues, singular values and singular-vector alignment of W and W*.

    Args:
        n_eigenvalues: largest-magnitude eigenvalues to compute (200).
        n_singular: top singular values/vectors (100).
        dense: decompose densely (exact; default: when N < 1,500).
        blas_threads: BLAS threads while decomposing. ARPACK's many small dense products
            ran 3-6x faster on one thread than on two on a shared 2-core machine.

    Attributes after :meth:`fit`:
        eigenvalues_true_, eigenvalues_corrected_: (k_e,) complex, decreasing magnitude.
        singular_values_true_, singular_values_corrected_: (k_s,) decreasing.
        left_alignment_, right_alignment_: (k_s, k_s) |cos| between singular vector r of W
            (row) and c of W* (column).
        best_left_alignment_, best_right_alignment_: (k_s,) the best |cos| of each vector of W.
        random_mean_, random_best_: the random baselines for N-dimensional vectors.
        dropped_edges_: edges with non-finite W*, left out of both matrices.
    """

    def __init__(
        self,
        n_eigenvalues: int = 200,
        n_singular: int = 100,
        dense: bool | None = None,
        seed: int = 0,
        blas_threads: int | None = 1,
    ) -> None:
        self.blas_threads = blas_threads
        self.n_eigenvalues = n_eigenvalues
        self.n_singular = n_singular
        self.dense = dense
        self.seed = seed

    def fit(self, true_W: np.ndarray, corrected_W: np.ndarray, source: np.ndarray, target: np.ndarray, n_neurons: int):
        """W, W*: (E,) weights of edges source[e] -> target[e] among ``n_neurons``."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.blas_threads):
            return self._fit(true_W, corrected_W, source, target, n_neurons)

    def _fit(self, true_W, corrected_W, source, target, n_neurons: int):
        dense = n_neurons < DENSE_BELOW if self.dense is None else self.dense
        limit = n_neurons if dense else n_neurons - 2  # ARPACK needs k < N - 1
        if self.n_eigenvalues > limit or self.n_singular > limit:
            raise FlygnnError(
                f"asked for {self.n_eigenvalues} eigenvalues and {self.n_singular} singular values of a "
                f"{n_neurons}-neuron matrix; at most {limit} are available."
            )
        # compare like with like: an edge whose W* is undefined leaves both matrices,
        # otherwise the spectra differ by the missing edges rather than by the learning
        defined = np.isfinite(np.asarray(corrected_W))
        true_matrix, _ = weight_matrix(np.where(defined, true_W, np.nan), source, target, n_neurons)
        corrected_matrix, self.dropped_edges_ = weight_matrix(corrected_W, source, target, n_neurons)
        self.eigenvalues_true_ = top_eigenvalues(true_matrix, self.n_eigenvalues, dense, self.seed)
        self.eigenvalues_corrected_ = top_eigenvalues(corrected_matrix, self.n_eigenvalues, dense, self.seed)
        u_true, self.singular_values_true_, vt_true = top_singular(true_matrix, self.n_singular, dense, self.seed)
        u_corr, self.singular_values_corrected_, vt_corr = top_singular(corrected_matrix, self.n_singular, dense, self.seed)
        self.left_alignment_ = np.abs(u_true.T @ u_corr)
        self.right_alignment_ = np.abs(vt_true @ vt_corr.T)
        self.best_left_alignment_ = self.left_alignment_.max(axis=1)
        self.best_right_alignment_ = self.right_alignment_.max(axis=1)
        self.random_mean_, self.random_best_ = random_alignment_baseline(n_neurons, self.n_singular)
        return self
