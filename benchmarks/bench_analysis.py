"""Time the whole analysis of one condition (all section notebooks), without kernel start-up.

Each section notebook's code cells are executed in this process, in order, with the
papermill parameters injected — exactly what papermill runs, minus starting a
kernel per notebook. The cache starts empty, so shared quantities are computed
once, by the first section that needs them. Prints one line per section and the
total; the target is ≤ 180 s for a full-size (extent 8) condition.

    python benchmarks/bench_analysis.py --bundle data/bundles/sigma-0p5 --condition sigma-0p5 --sigma 0.5
    python benchmarks/bench_analysis.py --synthetic      # an untrained full-size model, for timing only

``--synthetic`` writes a bundle of an untrained full-size GNN (with the pretrained
ground truth, or the synthetic one when no flyvis model is found) and activity
statistics drawn at random: its numbers mean nothing, its timings are real.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def synthetic_bundle(directory: Path, sigma: float, condition: str, extent: int = 8) -> Path:
    import numpy as np
    import torch

    from flygnn.bundle import save_bundle
    from flygnn.connectome import load_network
    from flygnn.errors import FlygnnError
    from flygnn.groundtruth import load_ground_truth
    from flygnn.model import FlyVisGNN

    network = load_network(extent)
    try:
        truth = load_ground_truth(network)
    except FlygnnError:
        truth = load_ground_truth(network, synthetic=True)
    torch.manual_seed(0)
    model = FlyVisGNN.from_network(network, embedding_dim=2)
    rng = np.random.default_rng(0)
    n = network.n_neurons
    mean = rng.uniform(-0.2, 1.0, n).astype(np.float32)
    std = rng.uniform(0.05, 0.3, n).astype(np.float32)
    frames = (mean + std * rng.normal(size=(256, n))).astype(np.float32)
    stimulus = np.zeros_like(frames)
    stimulus[:, network.input_indices] = rng.uniform(0, 1, (256, network.n_inputs))
    meta = {
        "condition": condition,
        "sigma": sigma,
        "training": {"preset": "benchmark (untrained)"},
        "groundtruth": {"source": truth.source, "synthetic": truth.synthetic, "fingerprint": truth.fingerprint()},
    }
    activity = {"voltage_mean": mean, "voltage_std": std, "frames_voltage": frames, "frames_stimulus": stimulus}
    return save_bundle(directory / condition, model, meta, activity)


def run_section(path: Path, parameters: dict) -> float:
    """Execute the notebook's code cells here, parameters cell replaced; returns seconds."""
    notebook = nbformat.read(path, as_version=4)
    namespace: dict = {"__name__": "__main__"}
    start = time.perf_counter()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(parameters)
            continue
        exec(compile(cell.source, path.name, "exec"), namespace)  # noqa: S102 - our own notebooks
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", help="bundle folder of a trained condition")
    parser.add_argument("--condition", default="sigma-0p5")
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--dataset", default="", help="the condition's dataset (optional)")
    parser.add_argument("--synthetic", action="store_true", help="time an untrained full-size model")
    parser.add_argument("--output", help="results folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch/BLAS threads (default: all cores)")
    args = parser.parse_args()
    if not args.bundle and not args.synthetic:
        parser.error("give --bundle or --synthetic")

    import torch

    torch.set_num_threads(args.threads)
    from flygnn.sections import SECTIONS

    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as scratch:
        scratch = Path(scratch)
        bundle = Path(args.bundle) if args.bundle else synthetic_bundle(scratch / "bundles", args.sigma, args.condition)
        output = Path(args.output) if args.output else scratch / "results" / args.condition
        parameters = {
            "condition": args.condition,
            "sigma": args.sigma,
            "bundle": str(bundle),
            "dataset": args.dataset,
            "output_dir": str(output),
            "flyvis_model": "",
            "synthetic_groundtruth": False,
        }
        timings = {}
        for section in SECTIONS:
            timings[section.name] = run_section(ROOT / "analysis" / f"{section.name}.ipynb", parameters)
            print(f"{section.name:14s} {timings[section.name]:7.1f} s", flush=True)
        total = sum(timings.values())
        print(f"{'total':14s} {total:7.1f} s  (target ≤ 180 s; threads {args.threads})")
        print(json.dumps({"timings_s": timings, "total_s": total}))
    return 0 if total <= 180 else 1


if __name__ == "__main__":
    sys.exit(main())
