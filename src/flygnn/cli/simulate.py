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
    from flygnn.connectome import load_network
    from flygnn.errors import FlygnnError
    from flygnn.figures.dataset import write_dataset_figures
    from flygnn.groundtruth import load_ground_truth
    from flygnn.project import ProjectLayout
    from flygnn.simulate import preset, simulate_dataset
    from flygnn.stimulus import StimulusSpec

    if args.seed < 0:
        raise FlygnnError(f"--seed must be >= 0, got {args.seed}.")
    settings = dict(preset(args.preset))
    for key in ("extent", "train_frames", "test_frames"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    layout = ProjectLayout.find(required=False, conditions_file=args.conditions_file, datasets=args.out)
    conditions = select_conditions(load_conditions(layout.conditions_file), args.conditions)
    todo = []
    for condition in conditions:
        path = layout.dataset_path(args.preset, condition.name)
        if path.exists() and not args.overwrite:
            print(f"{condition.name}: {layout.relative(path)} exists, kept (pass --overwrite to simulate it again)")
        else:
            todo.append((condition, path))
    if not todo:
        return 0
    network = load_network(settings["extent"])
    truth = load_ground_truth(network, args.flyvis_model, synthetic=args.synthetic_groundtruth)
    if truth.synthetic:
        print("note: using a SYNTHETIC ground truth; every output is labelled synthetic")
    spec = StimulusSpec.from_dict({"kind": args.stimulus, "seed": args.seed})
    for condition, path in todo:
        dataset = simulate_dataset(
            path,
            network,
            truth,
            sigma=condition.sigma,
            train_frames=settings["train_frames"],
            test_frames=settings["test_frames"],
            stimulus_spec=spec,
            condition=condition.name,
            preset_name=args.preset,
            seed=args.seed,
            tau_mode=args.tau_mode,
            overwrite=args.overwrite,
        )
        figures = layout.dataset_figures(args.preset, condition.name)
        write_dataset_figures(dataset, network, figures)
        print(
            f"{condition.name}: wrote {layout.relative(path)} ({dataset.frames('train')} train + "
            f"{dataset.frames('test')} test frames, σ = {condition.sigma:g}); figures in {layout.relative(figures)}"
        )
    return 0
