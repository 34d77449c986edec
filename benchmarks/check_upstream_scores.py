"""Cross-check the four upstream-named recovery scores with an independent re-implementation.

``W_corrected_R2``, ``W_corrected_slope``, ``tau_R2`` and ``V_rest_R2`` must follow the original
study's (flyvis-gnn's) scoring rules exactly (docs/design.md, section 7.8). The analysis computes
them in ``flygnn.analysis.scoring`` on top of the gauge, biophysics and metrics modules. This
script computes them again from the rules alone, in plain numpy/torch, without importing any of
those modules, and prints both side by side: a disagreement is a scoring bug (in one of the two),
never a training effect, because both score the same model on the same frames.

    python benchmarks/check_upstream_scores.py --bundle data/bundles/sigma-0p5 \\
        --metrics results/sigma-0p5/metrics.json
    python benchmarks/check_upstream_scores.py --bundle data/bundles/sigma-0p5   # against recovery_metrics

Without ``--metrics`` (or when that file does not exist) the analysis' numbers are those of
``flygnn.analysis.scoring.recovery_metrics`` computed in this process. flygnn is used only to
load the bundle (model, activity statistics, frames), the network and the ground truth.
Exit status 0 when all four agree to within 5e-6, 1 when one does not, 2 on a usage error.
At full size (13,741 neurons) each scoring takes about a minute on one thread.

The rules, as implemented below (j = presynaptic source, i = postsynaptic target; μ, s = mean and
unbiased std of each neuron's voltage over the training frames, as the bundle stores them):

1. s_g(j): slope of the OLS line through g_φ(v, a_j)² (``model.message``) at 1000 evenly spaced
   v in [max(μ_j − 2s_j, 0), μ_j + 2s_j]; s_g = 1 where μ_j + s_j ≤ 0 (those edges are scored).
2. s_f(i), b_i: slope and offset (value at v = 0) of the OLS line through
   f_θ(v, a_i, msg = 0, I = 0) (``model.update``, dv/dt in 1/s) at 1000 evenly spaced v in
   [μ_i − 2s_i, μ_i + 2s_i].
3. A fit over a range of zero width (s = 0) gives slope 0 and offset 0, as upstream's guarded
   closed-form fit does; hence s_f = 0 then, and below τ̂ = 1, V̂_rest = 1.
4. ∂f/∂msg|_i: autograd derivative of f_θ with respect to msg at each of the bundle's training
   frames (v, the frame's msg_i = Σ_{e: j→i} Ŵ_e g_φ(v_j, a_j)², the frame's stimulus I), median
   over the frames (numpy's median: the mean of the two middle values for an even count).
5. W*_e = −Ŵ_e / s_f(i) · ∂f/∂msg|_i · s_g(j); a non-finite W* is set to 0.
6. W_corrected_R2, W_corrected_slope: the OLS fit of W* (y) on the true W (x) over the edges with
   |W* − W| ≤ 5.
7. τ̂ = clip(−1/s_f, 0, 1) in seconds, V̂_rest = −b/s_f unclipped (1 and 1 where s_f = 0);
   tau_R2 and V_rest_R2: the OLS fit of the estimate (y) on the truth (x) over every neuron.

Which R²: upstream's ``compute_r_squared`` fits y = slope·x + c by least squares and reports
R² = 1 − SS_res/SS_tot with SS_res the residuals from *that fitted line* and SS_tot = Σ(y − ȳ)²
of the learned values (0 when they are constant): the R² of the fit (the squared correlation),
not the identity-line R² 1 − Σ(y − x)²/Σ(x − x̄)². flygnn's ``upstream_fit`` uses the same
definition; this script computes it with ``np.polyfit`` instead of closed-form sums.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

SCORES = ("W_corrected_R2", "W_corrected_slope", "tau_R2", "V_rest_R2")
POINTS = 1000  # points per neuron in upstream's slope fits
OUTLIER_LIMIT = 5.0  # upstream scores the edges with |W* − W| ≤ 5
TAU_CLIP = (0.0, 1.0)  # seconds
TOLERANCE = 5e-6  # five decimals
CHUNK = 16  # grid points (or frames) per model evaluation: (16, N) inputs stay small


class UsageError(Exception):
    """A mistake the user can fix (a missing bundle, a metrics file of another model)."""


# --------------------------------------------------------------------------------------------- #
#  The independent scorer
# --------------------------------------------------------------------------------------------- #


def evenly_spaced(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(POINTS, N) float64: column n runs from low[n] to high[n] in equal steps."""
    return np.linspace(low, high, POINTS, axis=0)


def evaluate(curve, voltages: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``curve(v)`` at the (P, N) voltages, P/CHUNK rows at a time, in the model's dtype.

    Returns (points, values), both (P, N) float64: the voltages as the model received them
    (rounded to its dtype) and its outputs; the line is fitted through exactly these points.
    """
    points = np.empty_like(voltages)
    values = np.empty_like(voltages)
    with torch.no_grad():
        for start in range(0, voltages.shape[0], CHUNK):
            v = torch.tensor(voltages[start : start + CHUNK], dtype=dtype)
            points[start : start + CHUNK] = v.double().numpy()
            values[start : start + CHUNK] = curve(v).double().numpy()
    return points, values


def line_per_neuron(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS line y ≈ slope·x + offset through each column of (P, N) x, y: (slope, offset), (N,) each.

    Closed form: slope = (P·Σxy − Σx·Σy)/(P·Σx² − (Σx)²), offset = (Σy − slope·Σx)/P. A column whose
    x does not vary (zero range) gives slope 0 and offset 0, upstream's result for a degenerate fit.
    """
    p = x.shape[0]
    sum_x, sum_y = x.sum(axis=0), y.sum(axis=0)
    sum_xy, sum_xx = (x * y).sum(axis=0), (x * x).sum(axis=0)
    degenerate = x.max(axis=0) == x.min(axis=0)
    denominator = np.where(degenerate, 1.0, p * sum_xx - sum_x * sum_x)
    slope = np.where(degenerate, 0.0, (p * sum_xy - sum_x * sum_y) / denominator)
    offset = np.where(degenerate, 0.0, (sum_y - slope * sum_x) / p)
    return slope, offset


def ols_r2_and_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(R², slope) of the least-squares line y = slope·x + c (upstream's ``compute_r_squared``):
    R² = 1 − SS_res/SS_tot, SS_res about the fitted line, SS_tot = Σ(y − ȳ)², 0 when y is constant.
    NaN, NaN when x has fewer than two distinct values (no line)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 2 or x.max() == x.min():
        return math.nan, math.nan
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (slope * x + intercept)
    ss_res = float(np.sum(residuals**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return (1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0), float(slope)


def msg_sensitivity(model, frames_voltage: np.ndarray, frames_stimulus: np.ndarray) -> np.ndarray:
    """(N,) ∂f/∂msg, the median over the K frames of autograd's derivative at each (K, N) frame."""
    dtype = model.W.dtype
    source, target = model.source.long(), model.target.long()
    weights = model.W.detach()
    derivatives = []
    for start in range(0, frames_voltage.shape[0], CHUNK):
        v = torch.tensor(frames_voltage[start : start + CHUNK], dtype=dtype)
        stimulus = torch.tensor(frames_stimulus[start : start + CHUNK], dtype=dtype)
        with torch.no_grad():
            g2 = model.message(v, model.a)  # g_φ(v_j, a_j)², (k, N)
            msg = torch.zeros_like(g2).index_add_(1, target, weights * g2[:, source])  # Σ_{e: j→i} Ŵ_e g²_j
        msg.requires_grad_(True)
        with torch.enable_grad():
            f = model.update(v, model.a, msg, stimulus)
            # f_i of a frame depends on msg_i of that frame only: the gradient of the sum is ∂f_i/∂msg_i
            (derivative,) = torch.autograd.grad(f.sum(), msg)
        derivatives.append(derivative.double().numpy())
    return np.median(np.concatenate(derivatives), axis=0)


def upstream_recovery_scores(model, activity: dict[str, np.ndarray], ground_truth) -> dict[str, float]:
    """The four upstream-named scores of ``model`` by the rules of this module's docstring.

    model: ``message(v, a)`` (g_φ²), ``update(v, a, msg, I)`` (f_θ), ``W`` (E,), ``a`` (N, d),
    ``source``, ``target`` (E,). activity: voltage_mean, voltage_std (N,), frames_voltage,
    frames_stimulus (K, N). ground_truth: ``W`` (E,), ``tau`` (N,) in s, ``v_rest`` (N,).
    """
    mean = np.asarray(activity["voltage_mean"], dtype=np.float64)
    std = np.asarray(activity["voltage_std"], dtype=np.float64)
    dtype = model.W.dtype
    source = model.source.cpu().numpy()
    target = model.target.cpu().numpy()

    # 1. message gain s_g(j) over the rectified range; 1 where μ + s ≤ 0
    x, g2 = evaluate(
        lambda v: model.message(v, model.a), evenly_spaced(np.maximum(mean - 2 * std, 0.0), mean + 2 * std), dtype
    )
    message_slope, _ = line_per_neuron(x, g2)
    message_slope = np.where(mean + std <= 0, 1.0, message_slope)

    # 2.-3. update slope s_f(i) and offset b_i at msg = 0, I = 0 over the full range
    def update_without_input(v: torch.Tensor) -> torch.Tensor:
        zeros = torch.zeros_like(v)
        return model.update(v, model.a, zeros, zeros)

    x, f = evaluate(update_without_input, evenly_spaced(mean - 2 * std, mean + 2 * std), dtype)
    update_slope, update_offset = line_per_neuron(x, f)

    # 4. ∂f/∂msg at the real training frames
    sensitivity = msg_sensitivity(model, activity["frames_voltage"], activity["frames_stimulus"])

    # 5. corrected weights
    learned_W = model.W.detach().double().numpy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        corrected_W = -learned_W / update_slope[target] * sensitivity[target] * message_slope[source]
    corrected_W[~np.isfinite(corrected_W)] = 0.0

    # 6. W scores over the edges with |W* − W| ≤ 5
    true_W = np.asarray(ground_truth.W, dtype=np.float64)
    scored = np.abs(corrected_W - true_W) <= OUTLIER_LIMIT
    w_r2, w_slope = ols_r2_and_slope(true_W[scored], corrected_W[scored])

    # 7. τ̂ and V̂_rest, every neuron
    zero_slope = update_slope == 0
    safe_slope = np.where(zero_slope, 1.0, update_slope)
    tau = np.clip(np.where(zero_slope, 1.0, -1.0 / safe_slope), *TAU_CLIP)
    v_rest = np.where(zero_slope, 1.0, -update_offset / safe_slope)
    tau_r2, _ = ols_r2_and_slope(np.asarray(ground_truth.tau, dtype=np.float64), tau)
    v_rest_r2, _ = ols_r2_and_slope(np.asarray(ground_truth.v_rest, dtype=np.float64), v_rest)
    return dict(zip(SCORES, (w_r2, w_slope, tau_r2, v_rest_r2), strict=True))


# --------------------------------------------------------------------------------------------- #
#  Comparison and command line
# --------------------------------------------------------------------------------------------- #


def agree(a: float, b: float) -> bool:
    """Equal to within TOLERANCE, or both undefined (NaN)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOLERANCE


def comparison_table(analysis: dict[str, float], independent: dict[str, float]) -> str:
    lines = [f"{'metric':18s} {'analysis':>14s} {'independent':>14s} {'|difference|':>13s}"]
    for name in SCORES:
        a, b = analysis[name], independent[name]
        lines.append(f"{name:18s} {a:14.8f} {b:14.8f} {abs(a - b):13.2e}")
    return "\n".join(lines)


def load_inputs(bundle: Path, flyvis_model: str | None, synthetic_seed: int | None):
    """(loaded bundle, ground truth) with flygnn's loaders; UsageError on a user mistake."""
    from flygnn.bundle import load_bundle, read_meta
    from flygnn.connectome import load_network
    from flygnn.errors import FlygnnError
    from flygnn.groundtruth import load_ground_truth

    if not (bundle / "bundle.json").is_file():
        raise UsageError(f"no bundle at {bundle} (no bundle.json); pass --bundle data/bundles/<condition>.")
    try:
        extent = read_meta(bundle)["architecture"].get("extent")
        if extent is None:
            raise UsageError(f"bundle {bundle} does not record its network's extent (architecture.extent).")
        network = load_network(int(extent))
        loaded = load_bundle(bundle, network)
        if synthetic_seed is not None:
            truth = load_ground_truth(network, synthetic=True, seed=synthetic_seed)
        else:
            truth = load_ground_truth(network, flyvis_model)
    except FlygnnError as exc:
        raise UsageError(" ".join(str(exc).split())) from None
    expected = loaded.meta.get("groundtruth", {}).get("fingerprint")
    if expected is not None and truth.fingerprint() != expected:
        raise UsageError(
            f"bundle {bundle} was trained against ground truth {expected}, but {truth.source} is "
            f"{truth.fingerprint()}; pass the right --flyvis-model or --synthetic-groundtruth SEED."
        )
    return loaded, truth


def analysis_scores(metrics: Path | None, loaded, truth) -> tuple[dict[str, float], str]:
    """The analysis' four numbers: from ``metrics`` (a results/<condition>/metrics.json of this bundle)
    when it exists, else from ``flygnn.analysis.scoring.recovery_metrics`` in this process."""
    if metrics is not None and metrics.is_file():
        try:
            document = json.loads(metrics.read_text())
            entries = {name: document["metrics"][name] for name in SCORES}
            values = {name: entry["value"] for name, entry in entries.items()}
            # each entry records the fingerprint of the bundle it scored (the top level: path and sha256)
            recorded = {entry.get("inputs", {}).get("bundle") for entry in entries.values()}
            top = document.get("inputs", {}).get("bundle")
            recorded.add(top.get("sha256") if isinstance(top, dict) else top)
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
            raise UsageError(f"{metrics} is not a flygnn metrics.json with the four scores ({exc!r}).") from None
        other = sorted(str(f) for f in recorded - {None, loaded.fingerprint()})
        if other:
            raise UsageError(
                f"{metrics} scores bundle {', '.join(other)}, not {loaded.path} ({loaded.fingerprint()}); "
                "pass the metrics.json of this bundle's condition."
            )
        return {name: math.nan if value is None else float(value) for name, value in values.items()}, str(metrics)
    from flygnn.analysis.scoring import recovery_metrics

    where = "flygnn.analysis.scoring.recovery_metrics, this process"
    if metrics is not None:
        where += f" ({metrics} does not exist)"
    return recovery_metrics(loaded.model, loaded.activity, truth), where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default="data/bundles/sigma-0p5", help="bundle folder of a trained model")
    parser.add_argument("--metrics", help="the analysis' metrics.json of the same bundle (default: score it here)")
    parser.add_argument("--flyvis-model", help="flyvis model folder of the ground truth (default: the shipped one)")
    parser.add_argument("--synthetic-groundtruth", type=int, metavar="SEED", help="the synthetic ground truth SEED")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        loaded, truth = load_inputs(Path(args.bundle), args.flyvis_model, args.synthetic_groundtruth)
        analysis, where = analysis_scores(Path(args.metrics) if args.metrics else None, loaded, truth)
        independent = upstream_recovery_scores(loaded.model, loaded.activity, truth)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)  # main() is also called in-process (tests)
    print(f"bundle {loaded.path}; analysis' values from {where}")
    print(comparison_table(analysis, independent))
    differing = [name for name in SCORES if not agree(analysis[name], independent[name])]
    if differing:
        print(f"DISAGREE: {', '.join(differing)} differ by more than {TOLERANCE:g} (or one side is undefined).")
        return 1
    print(f"agree: all four scores within {TOLERANCE:g}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
