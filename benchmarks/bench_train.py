"""Training speed at full size: our trainer against the per-edge reference.

One training iteration = the full loss of docs/design.md, section 6 (prediction + monotonicity +
anchor + weight penalties) on B random frames, backward, Adam step. "ours"
evaluates g_φ once per neuron and aggregates with a sparse product; "per-edge"
is the same model computed the way flyvis-gnn does (g_φ on every one of the
434,112 edges, scatter-add). Both see the same frames and parameters.

    python benchmarks/bench_train.py                   # B = 1, 2, 4; one thread
    python benchmarks/bench_train.py --batch-sizes 2 --seconds 20

Prints iterations/s (wall clock and per CPU-second of this process, which is less
disturbed by other jobs on a shared machine) and the speed-up at each B.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from flygnn.connectome import load_network
from flygnn.model import FlyVisGNN, per_edge_forward
from flygnn.train import load_training_config, loss_terms, tune_cpu_allocator


def _per_edge_terms(model, v, I, y, config, xnorm):
    terms = loss_terms(model, v, I, y, config, xnorm)
    terms["prediction"] = (per_edge_forward(model, v, I) - y).norm()
    return terms


def _optimizer(model, config):
    groups = model.parameter_groups()
    return torch.optim.Adam(
        [
            {"params": groups["W"], "lr": config.lr_W},
            {"params": groups["mlp"], "lr": config.lr_mlp},
            {"params": groups["embedding"], "lr": config.lr_embedding},
        ]
    )


def measure(model, config, terms_of, batch_size, seconds, min_iterations, rng):
    """(iterations/s wall, iterations/s per CPU second, iterations) of full training steps."""
    optimizer = _optimizer(model, config)
    n = model.n_neurons
    inputs = torch.zeros(n)
    inputs[:1736] = 1.0

    def step():
        v = torch.from_numpy(rng.normal(0.3, 0.5, size=(batch_size, n)).astype(np.float32))
        I = torch.rand(batch_size, n) * inputs
        y = torch.from_numpy(rng.normal(0, 2, size=(batch_size, n)).astype(np.float32))
        optimizer.zero_grad(set_to_none=True)
        loss = torch.stack(list(terms_of(model, v, I, y, config, 0.6).values())).sum()
        loss.backward()
        optimizer.step()

    step()  # warm-up: builds the sparse structure, allocates
    wall, cpu, done = time.perf_counter(), time.process_time(), 0
    while done < min_iterations or time.perf_counter() - wall < seconds:
        step()
        done += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return done / wall, done / cpu, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--sigma", type=float, default=0.5, help="σ whose coefficients and architecture are used")
    parser.add_argument("--seconds", type=float, default=15.0, help="time per measurement of ours")
    parser.add_argument("--reference-iterations", type=int, default=3, help="iterations of the per-edge reference")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-allocator-tuning", action="store_true")
    parser.add_argument("--extent", type=int, default=8)
    args = parser.parse_args()

    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)
    tuned = False if args.no_allocator_tuning else tune_cpu_allocator()
    network = load_network(extent=args.extent)
    config = load_training_config("paper", args.sigma)
    print(
        f"network: {network.n_neurons} neurons, {network.n_edges} edges; σ = {args.sigma:g} loss; "
        f"threads {args.threads}; allocator tuned: {tuned}; torch {torch.__version__}"
    )
    print(
        f"{'B':>3} {'ours it/s':>10} {'(per CPU-s)':>12} {'per-edge it/s':>14} {'(per CPU-s)':>12} {'speed-up':>9} {'(CPU)':>7}"
    )
    for batch_size in args.batch_sizes:
        torch.manual_seed(0)
        model = FlyVisGNN.from_network(network, **config.architecture())
        ours = measure(model, config, loss_terms, batch_size, args.seconds, 5, np.random.default_rng(0))
        reference = measure(
            model, config, _per_edge_terms, batch_size, 0.0, args.reference_iterations, np.random.default_rng(0)
        )
        print(
            f"{batch_size:>3} {ours[0]:>10.2f} {ours[1]:>12.2f} {reference[0]:>14.3f} {reference[1]:>12.3f} "
            f"{ours[0] / reference[0]:>8.1f}x {ours[1] / reference[1]:>6.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
