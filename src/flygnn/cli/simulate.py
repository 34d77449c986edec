"""``flygnn simulate``: the voltage datasets of the conditions in data/conditions.yaml."""

from __future__ import annotations

from flygnn.cli.network import add_groundtruth_options
from flygnn.cli.options import add_conditions_file_option, default_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate the datasets of the conditions (σ levels) in data/conditions.yaml",
        description="Simulate one dataset per condition into OUT/<preset>/<condition>.zarr (its figures into "
        "OUT/<preset>/figures/<condition>/). A finished dataset is never overwritten unless --overwrite is given; "
        "an interrupted run leaves nothing. Paths default to the project that contains the cwd.",
    )
    parser.add_argument("--preset", default="cpu", help="paper | cpu | smoke (default cpu)")
    parser.add_argument("--conditions", nargs="*", metavar="NAME", help="condition names (default: all)")
    add_conditions_file_option(parser)
    parser.add_argument("--out", help=f"dataset folder (default: {default_path('datasets')})")
    parser.add_argument("--overwrite", action="store_true", help="replace finished datasets")
    parser.add_argument("--seed", type=int, default=0, help="stimulus and noise seed (default 0)")
    parser.add_argument("--stimulus", default="natural", help="natural | flashes | gratings | edges | mixed")
    parser.add_argument(
        "--tau-mode",
        default="raw",
        choices=("raw", "clamped"),
        help="divide by τ (raw, upstream) or max(τ, dt) (flyvis)",
    )
    parser.add_argument("--train-frames", type=int, default=None, help="override the preset")
    parser.add_argument("--test-frames", type=int, default=None, help="override the preset")
    parser.add_argument("--extent", type=int, default=None, help="override the preset's lattice radius")
    add_groundtruth_options(parser)
    parser.set_defaults(func=simulate_command)


def simulate_command(args) -> int:
    from flygnn.conditions import load_conditions, select_conditions
    from flygnn.project import ProjectLayout
    from flygnn.stages.simulate import simulate_conditions

    layout = ProjectLayout.find(required=False, conditions_file=args.conditions_file, datasets=args.out)
    conditions = select_conditions(load_conditions(layout.conditions_file), args.conditions)
    overrides = {key: getattr(args, key) for key in ("extent", "train_frames", "test_frames")}
    simulated = simulate_conditions(
        layout,
        conditions,
        preset_name=args.preset,
        overwrite=args.overwrite,
        seed=args.seed,
        stimulus=args.stimulus,
        tau_mode=args.tau_mode,
        overrides={key: value for key, value in overrides.items() if value is not None},
        flyvis_model=args.flyvis_model,
        synthetic_groundtruth=args.synthetic_groundtruth,
    )
    if any(s.synthetic_groundtruth for s in simulated):
        print("note: using a SYNTHETIC ground truth; every output is labelled synthetic")
    for s in simulated:
        name, path = s.condition.name, layout.relative(s.path)
        if s.kept:
            print(f"{name}: {path} exists, kept (pass --overwrite to simulate it again)")
        elif s.figures is None:  # simulate_conditions draws the figures of every dataset it simulates
            raise RuntimeError(f"{name}: simulated without its figures")
        else:
            print(
                f"{name}: wrote {path} ({s.train_frames} train + {s.test_frames} test frames, "
                f"σ = {s.condition.sigma:g}); figures in {layout.relative(s.figures)}"
            )
    return 0
