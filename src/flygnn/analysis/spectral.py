"""Spectra of the true and the corrected weight matrix, and of the linearised dynamics.

W and W* as N×N sparse matrices (row = target i, column = source j): the largest-
magnitude eigenvalues, the top singular values, and how well the top singular
vectors of W* align with those of W. Two baselines say what these numbers would be
without learning:

- random vectors: two random unit vectors in N dimensions have |cosine| ≈ √(2/(πN))
  on average (0.007 at N = 13,741); the best of k random vectors is larger — that,
  not a fixed number, is the baseline for "best alignment";
- a permutation null: W's weights shuffled among the same edges. It keeps the graph
  and the distribution of weights and loses only which edge has which weight, so it
  shows how much of a spectrum (and of its rank-matched agreement) the graph and the
  weight distribution give for free.

The dynamics dv/dt = (−v + V_rest + W ReLU(v) + I)/τ linearised at the operating
point μ (the mean training voltage) have the Jacobian J = diag(1/τ)(−I + W·D),
D = diag(ReLU'(μ)). A neuron with μ ≤ 0 has D = 0: its column of J holds only −1/τ
on the diagonal, so −1/τ is one of J's eigenvalues and the rest of the spectrum is
that of J restricted to the neurons with μ > 0 — the part the coupling shapes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from scipy import integrate, special

from flygnn.errors import FlygnnError

DENSE_BELOW = 1500  # neurons: below this a dense decomposition is exact and fast


def weight_matrix(
    W: np.ndarray, source: np.ndarray, target: np.ndarray, n_neurons: int
) -> tuple[scipy.sparse.csr_matrix, int]:
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


def permuted_weights(W: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """W (E,) with its finite weights shuffled among the edges that hold them (non-finite stay in place).

    The permutation null of a weight matrix: same edges (graph), same multiset of weights.
    """
    W = np.array(W, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(W))
    W[finite] = W[rng.permutation(finite)]
    return W


def relu_slope(voltage: np.ndarray) -> np.ndarray:
    """ReLU'(v): 1 where v > 0, else 0 (0 at v = 0, as autograd's ReLU)."""
    return (np.asarray(voltage, dtype=np.float64) > 0).astype(np.float64)


def jacobian_matrix(
    W: np.ndarray, source: np.ndarray, target: np.ndarray, tau: np.ndarray, slope: np.ndarray
) -> scipy.sparse.csr_matrix:
    """J = diag(1/τ)(−I + W·D), D = diag(slope), as an N×N CSR matrix in 1/s.

    J[i, j] = (−δ_ij + Σ_{e: j→i} W_e · slope_j) / τ_i is ∂(dv_i/dt)/∂v_j of
    dv/dt = (−v + V_rest + W g(v) + I)/τ with slope = g'(v) at the operating point
    (for g = ReLU: :func:`relu_slope`). W (E,), edge e from source[e] to target[e];
    non-finite W_e are left out. tau, slope: (N,).
    """
    tau = np.asarray(tau, dtype=np.float64)
    n = tau.size
    coupling, _ = weight_matrix(
        np.asarray(W, dtype=np.float64) * np.asarray(slope, dtype=np.float64)[source], source, target, n
    )
    inverse_tau = scipy.sparse.diags(1.0 / tau)
    return (inverse_tau @ (coupling - scipy.sparse.identity(n, format="csr"))).tocsr()


def _by_real_part(eigenvalues: np.ndarray) -> np.ndarray:
    return eigenvalues[np.lexsort((-np.abs(eigenvalues.imag), -eigenvalues.real))]


def rightmost_eigenvalues(matrix: scipy.sparse.spmatrix, k: int, dense: bool, seed: int = 0) -> np.ndarray:
    """The k eigenvalues with the largest real part (complex), by decreasing real part."""
    if dense:
        return _by_real_part(np.linalg.eigvals(matrix.toarray()))[:k]
    rng = np.random.default_rng(seed)
    values = scipy.sparse.linalg.eigs(
        matrix, k=k, which="LR", v0=rng.normal(size=matrix.shape[0]), return_eigenvectors=False, maxiter=20000, tol=1e-8
    )
    return _by_real_part(values)


def rightmost_eigenvalues_by_blocks(matrix: scipy.sparse.spmatrix, k: int, seed: int = 0) -> np.ndarray:
    """The k eigenvalues with the largest real part, found block by block (complex, decreasing real part).

    Ordered by its strongly connected components a matrix is block triangular, and its
    eigenvalues are those of its diagonal blocks: a row outside every loop contributes its
    diagonal entry exactly, a small block is decomposed densely, and only the large ones
    go to ARPACK. Exact, and it spares ARPACK the many equal diagonal entries (every
    neuron of one type outside a loop has the same −1/τ), on which it converges slowly.
    """
    from scipy.sparse.csgraph import connected_components

    matrix = scipy.sparse.csr_matrix(matrix)
    _, labels = connected_components(matrix, directed=True, connection="strong")
    sizes = np.bincount(labels)
    values = [matrix.diagonal()[sizes[labels] == 1]]
    for component in np.flatnonzero(sizes > 1):
        members = np.flatnonzero(labels == component)
        block = matrix[members][:, members]
        dense = members.size < DENSE_BELOW
        values.append(rightmost_eigenvalues(block, members.size if dense else min(k, members.size - 2), dense, seed))
    return _by_real_part(np.concatenate(values))[:k]


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
    """Eigenvalues, singular values and singular-vector alignment of W and W*, beside a permutation null.

    Args:
        n_eigenvalues: largest-magnitude eigenvalues to compute (200).
        n_singular: top singular values/vectors (100).
        n_permutations: shuffles of W for the permutation null (:func:`permuted_weights`).
        dense: decompose densely (exact; default: when N < 1,500).
        seed: ARPACK start vectors; the null's shuffles are drawn from ``seed`` too.
        blas_threads: BLAS threads while decomposing. ARPACK's many small dense products
            ran 3-6x faster on one thread than on two on a shared 2-core machine.

    Attributes after :meth:`fit`:
        eigenvalues_true_, eigenvalues_corrected_: (k_e,) complex, decreasing magnitude.
        singular_values_true_, singular_values_corrected_: (k_s,) decreasing.
        left_alignment_, right_alignment_: (k_s, k_s) |cos| between singular vector r of W
            (row) and c of W* (column).
        best_left_alignment_, best_right_alignment_: (k_s,) the best |cos| of each vector of W.
        random_mean_, random_best_: the random baselines for N-dimensional vectors.
        null_singular_values_: (n_permutations, k_s) top singular values of each shuffle.
        null_best_left_alignment_, null_best_right_alignment_: (n_permutations, k_s) the best |cos|
            of each singular vector of W with any of a shuffle's top k_s.
        dropped_edges_: edges with non-finite W*, left out of all matrices.
    """

    def __init__(
        self,
        n_eigenvalues: int = 200,
        n_singular: int = 100,
        n_permutations: int = 3,
        dense: bool | None = None,
        seed: int = 0,
        blas_threads: int | None = 1,
    ) -> None:
        self.blas_threads = blas_threads
        self.n_eigenvalues = n_eigenvalues
        self.n_singular = n_singular
        self.n_permutations = n_permutations
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
        # compare like with like: an edge whose W* is undefined leaves every matrix,
        # otherwise the spectra differ by the missing edges rather than by the learning
        defined = np.isfinite(np.asarray(corrected_W))
        true_matrix, _ = weight_matrix(np.where(defined, true_W, np.nan), source, target, n_neurons)
        corrected_matrix, self.dropped_edges_ = weight_matrix(corrected_W, source, target, n_neurons)
        self.eigenvalues_true_ = top_eigenvalues(true_matrix, self.n_eigenvalues, dense, self.seed)
        self.eigenvalues_corrected_ = top_eigenvalues(corrected_matrix, self.n_eigenvalues, dense, self.seed)
        u_true, self.singular_values_true_, vt_true = top_singular(true_matrix, self.n_singular, dense, self.seed)
        u_corr, self.singular_values_corrected_, vt_corr = top_singular(
            corrected_matrix, self.n_singular, dense, self.seed
        )
        self.left_alignment_ = np.abs(u_true.T @ u_corr)
        self.right_alignment_ = np.abs(vt_true @ vt_corr.T)
        self.best_left_alignment_ = self.left_alignment_.max(axis=1)
        self.best_right_alignment_ = self.right_alignment_.max(axis=1)
        self.random_mean_, self.random_best_ = random_alignment_baseline(n_neurons, self.n_singular)

        rng = np.random.default_rng(self.seed)
        shape = (self.n_permutations, self.n_singular)
        self.null_singular_values_ = np.empty(shape)
        self.null_best_left_alignment_ = np.empty(shape)
        self.null_best_right_alignment_ = np.empty(shape)
        shuffleable = np.where(defined, true_W, np.nan)
        for p in range(self.n_permutations):
            null_matrix, _ = weight_matrix(permuted_weights(shuffleable, rng), source, target, n_neurons)
            u_null, self.null_singular_values_[p], vt_null = top_singular(
                null_matrix, self.n_singular, dense, self.seed
            )
            self.null_best_left_alignment_[p] = np.abs(u_true.T @ u_null).max(axis=1)
            self.null_best_right_alignment_[p] = np.abs(vt_true @ vt_null.T).max(axis=1)
        return self


class LinearisedDynamics:
    """Spectra of the Jacobian of the true and of the learned dynamics at the operating point.

    J = diag(1/τ)(−I + W·D), D = diag(ReLU'(μ)) (:func:`jacobian_matrix`), on the neurons
    with μ > 0 (every other neuron adds exactly −1/τ_i to the spectrum). True: τ and W;
    learned: τ̂ and W*. Only neurons with a defined, non-zero τ̂ take part (the same ones in
    both), and edges with undefined W* leave both matrices, so the two spectra differ by
    what was learned and not by what was left out.

    Args:
        n_eigenvalues: the eigenvalues with the largest real part (the slowest or least
            stable modes) to compute (100).
        dense: decompose densely (default: when fewer than 1,500 neurons take part); otherwise
            block by block (:func:`rightmost_eigenvalues_by_blocks`, exact as well).

    Attributes after :meth:`fit`:
        eigenvalues_true_, eigenvalues_learned_: (k,) complex, in 1/s, decreasing real part.
        active_: (N,) bool, the neurons of the two matrices.
        excluded_neurons_: neurons with μ > 0 left out because τ̂ is undefined or 0.
        dropped_edges_: edges between active neurons left out because W* is undefined.
    """

    def __init__(
        self, n_eigenvalues: int = 100, dense: bool | None = None, seed: int = 0, blas_threads: int | None = 1
    ) -> None:
        self.n_eigenvalues = n_eigenvalues
        self.dense = dense
        self.seed = seed
        self.blas_threads = blas_threads

    def fit(
        self,
        true_W: np.ndarray,
        true_tau: np.ndarray,
        learned_W: np.ndarray,
        learned_tau: np.ndarray,
        source: np.ndarray,
        target: np.ndarray,
        operating_voltage: np.ndarray,
    ) -> LinearisedDynamics:
        """W, W*: (E,) edges source[e] -> target[e]; τ, τ̂ (s) and the operating voltage μ: (N,)."""
        from threadpoolctl import threadpool_limits

        learned_tau = np.asarray(learned_tau, dtype=np.float64)
        coupled = relu_slope(operating_voltage) > 0
        usable = np.isfinite(learned_tau) & (learned_tau != 0)
        self.active_ = coupled & usable
        self.excluded_neurons_ = int((coupled & ~usable).sum())
        neurons = np.flatnonzero(self.active_)
        m = neurons.size
        dense = m < DENSE_BELOW if self.dense is None else self.dense
        k = min(self.n_eigenvalues, m if dense else m - 2)  # ARPACK needs k < M - 1
        if k < 1:
            raise FlygnnError(
                "no neuron has a positive operating voltage and a defined τ̂; the dynamics have no coupled part."
            )
        index = np.full(self.active_.size, -1)
        index[neurons] = np.arange(m)
        source, target = np.asarray(source), np.asarray(target)
        inside = self.active_[source] & self.active_[target]
        defined = inside & np.isfinite(np.asarray(learned_W, dtype=np.float64))
        self.dropped_edges_ = int((inside & ~defined).sum())
        ones = np.ones(m)
        spectra = []
        for W, tau in ((true_W, true_tau), (learned_W, learned_tau)):
            J = jacobian_matrix(
                np.asarray(W, dtype=np.float64)[defined],
                index[source[defined]],
                index[target[defined]],
                np.asarray(tau, dtype=np.float64)[neurons],
                ones,
            )
            with threadpool_limits(limits=self.blas_threads):
                spectra.append(
                    rightmost_eigenvalues(J, k, True) if dense else rightmost_eigenvalues_by_blocks(J, k, self.seed)
                )
        self.eigenvalues_true_, self.eigenvalues_learned_ = spectra
        return self
