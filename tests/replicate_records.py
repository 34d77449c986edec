"""A replicate record as `flygnn replicate` writes it (one row of data/replicates/*.csv), for the
report's tests: the fields the book reads, with the scores given."""

from __future__ import annotations


def record(seed: int, w: float, tau: float, stimulus: str = "natural", sigma: float = 0.5, **extra) -> dict:
    row = {
        "run": f"fast-{sigma:g}-{stimulus}-train{seed}", "sigma": sigma, "recipe": "fast", "stimulus": stimulus,
        "configuration": sigma, "train_seed": seed, "simulation_seed": 0, "training_minutes": 60.0 + seed,
        "W_corrected_R2": w, "W_corrected_slope": 0.99, "tau_R2": tau, "V_rest_R2": 0.9, "clustering_accuracy": 0.88,
    }  # fmt: skip
    row.update(extra)
    return row
