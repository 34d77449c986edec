"""Simulator speed at full size (extent 8: 13,741 neurons, 434,112 edges).

Prints Euler steps per second for the bare simulator and for simulation plus
writing to a zarr dataset, at σ = 0 and σ = 0.5. Target: ≥ 1,000 steps/s.

    python benchmarks/bench_simulate.py [--frames 3000] [--flyvis-model DIR | --synthetic]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--extent", type=int, default=8)
    parser.add_argument("--flyvis-model", default=None)
    parser.add_argument("--synthetic", action="store_true")
    args = parser.parse_args()

    from flygnn.connectome import load_network
    from flygnn.groundtruth import load_ground_truth
    from flygnn.simulate import Simulator, simulate_dataset
    from flygnn.stimulus import StimulusSpec, stimulus_movie

    network = load_network(args.extent)
    truth = load_ground_truth(network, args.flyvis_model, synthetic=args.synthetic)
    luminance = stimulus_movie(StimulusSpec(), network.columns_u, network.columns_v, "train", args.frames)
    print(f"network: {network.n_neurons} neurons, {network.n_edges} edges; {args.frames} frames")
    for sigma in (0.0, 0.5):
        simulator = Simulator(network, truth, sigma)
        v0 = simulator.steady_state()
        start = time.perf_counter()
        for _ in simulator.run(np.array_split(luminance, max(1, args.frames // 500)), v0, np.random.default_rng(0)):
            pass
        bare = args.frames / (time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            simulate_dataset(Path(tmp) / "bench.zarr", network, truth, sigma, args.frames, 100, progress=False)
            written = (args.frames + 100) / (time.perf_counter() - start)
        print(
            f"sigma={sigma:<4} simulate only: {bare:8.0f} steps/s   simulate + stimulus + write: {written:8.0f} steps/s"
        )


if __name__ == "__main__":
    main()
