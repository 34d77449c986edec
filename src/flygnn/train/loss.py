"""The training loss (docs/design.md, section 6), term by term.

Per iteration, B random training frames k give

    ‖ŷ − y‖₂                                         prediction (plain norm over the batch)
  + μ₀ ‖ReLU(g²(v) − g²(v + 0.05·xnorm))‖₂            g_φ monotone in v (first frame, all neurons)
  + μ₁ ‖g²(2·xnorm) − 2·xnorm‖₂                      g_φ anchored (fixes its gain against Ŵ)
  + Σ_p c_g‖p‖₁ over g_φ   + Σ_p (c_f1‖p‖₁ + c_f2‖p‖₂) over f_θ   + c_W‖Ŵ‖₁

with ŷ = model(v_k, I_k), y = the clean dv/dt of frame k, g² = ``model.message`` with
embeddings detached, xnorm = 1.5 × std of all training voltages.

Deliberate differences from upstream: the monotonicity step is v + 0.05·xnorm, the
regularisers act on the first frame of the batch, and L1/L2 apply from iteration 1.
"""

from __future__ import annotations

import torch

from flygnn.model import FlyVisGNN
from flygnn.train.config import TrainingConfig

LOSS_COMPONENTS = ("prediction", "monotonicity", "anchor", "g_phi_L1", "f_theta_weights", "W_L1")
# how this loss differs from the study's code, for the book's list of deviations
LOSS_DIFFERENCES = (
    "the monotonicity penalty compares g² at v and at v + 0.05·xnorm (a step of 5 % of 1.5 training-voltage SDs)",
    "the monotonicity and anchor penalties are evaluated on the first frame of each batch",
    "the L1 and L2 penalties apply from the first iteration",
)


def loss_terms(
    model: FlyVisGNN, v: torch.Tensor, I: torch.Tensor, y: torch.Tensor, config: TrainingConfig, xnorm: float
) -> dict[str, torch.Tensor]:
    """Every term of the loss (already multiplied by its coefficient); their sum is the loss.

    v, I, y: (B, N) voltages, input currents and clean dv/dt of B frames.
    """
    terms = {"prediction": (model(v, I) - y).norm()}
    rows = []
    if config.monotonicity > 0:
        rows += [v[0], v[0] + config.monotonicity_step * xnorm]
    if config.anchor > 0:
        rows.append(torch.full_like(v[0], 2 * xnorm))
    if rows:
        g2 = model.message(torch.stack(rows), model.a.detach())  # inputs detached
        if config.monotonicity > 0:
            terms["monotonicity"] = config.monotonicity * monotonicity_penalty(g2[0], g2[1])
        if config.anchor > 0:
            terms["anchor"] = config.anchor * (g2[-1] - 2 * xnorm).norm()
    if config.g_phi_L1 > 0:
        terms["g_phi_L1"] = config.g_phi_L1 * sum(p.abs().sum() for p in model.g_phi.parameters())
    if config.f_theta_L1 > 0 or config.f_theta_L2 > 0:
        terms["f_theta_weights"] = sum(
            config.f_theta_L1 * p.abs().sum() + config.f_theta_L2 * p.norm() for p in model.f_theta.parameters()
        )
    if config.W_L1 > 0:
        terms["W_L1"] = config.W_L1 * model.W.abs().sum()
    return terms


def monotonicity_penalty(g2_at_v: torch.Tensor, g2_above_v: torch.Tensor) -> torch.Tensor:
    """‖ReLU(g²(v) − g²(v + δ))‖₂: zero exactly when g² does not decrease from v to v + δ."""
    return torch.relu(g2_at_v - g2_above_v).norm()
