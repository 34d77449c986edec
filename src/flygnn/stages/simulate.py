"""The simulate stage: one voltage dataset per condition, with its figures.

Entry function: :func:`simulate_conditions` (``flygnn simulate`` and the Snakefile's simulate
rule). A finished dataset is kept unless ``overwrite``; an interrupted one leaves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flygnn.conditions import Condition
from flygnn.errors import FlygnnError
from flygnn.project import ProjectLayout


@dataclass(frozen=True)
class SimulatedCondition:
    """One condition's dataset: ``kept`` when it existed and was left as it was."""

    condition: Condition
    path: Path
    kept: bool
    train_frames: int = 0
    test_frames: int = 0
    figures: Path | None = None
    synthetic_groundtruth: bool = False


def simulate_conditions(
    layout: ProjectLayout,
    conditions: Sequence[Condition],
    *,
    preset_name: str = "cpu",
    overwrite: bool = False,
    seed: int = 0,
    stimulus: str = "natural",
    tau_mode: str = "raw",
    overrides: dict[str, int] | None = None,
    flyvis_model: str | None = None,
    synthetic_groundtruth: bool = False,
) -> list[SimulatedCondition]:
    """Simulate the datasets of ``conditions`` into ``layout.datasets`` (``overrides``: the preset's
    extent, train_frames, test_frames)."""
    from flygnn.connectome import load_network
    from flygnn.figures.dataset import write_dataset_figures
    from flygnn.groundtruth import load_ground_truth
    from flygnn.simulate import preset, simulate_dataset
    from flygnn.stimulus import StimulusSpec

    if seed < 0:
        raise FlygnnError(f"--seed must be >= 0, got {seed}.")
    settings = {**preset(preset_name), **(overrides or {})}
    done: list[SimulatedCondition] = []
    todo = []
    for condition in conditions:
        path = layout.dataset_path(preset_name, condition.name)
        if path.exists() and not overwrite:
            done.append(SimulatedCondition(condition, path, kept=True))
        else:
            todo.append((condition, path))
    if not todo:
        return done
    network = load_network(settings["extent"])
    truth = load_ground_truth(network, flyvis_model, synthetic=synthetic_groundtruth)
    spec = StimulusSpec.from_dict({"kind": stimulus, "seed": seed})
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
            preset_name=preset_name,
            seed=seed,
            tau_mode=tau_mode,
            overwrite=overwrite,
        )
        figures = layout.dataset_figures(preset_name, condition.name)
        write_dataset_figures(dataset, network, figures)
        done.append(
            SimulatedCondition(
                condition,
                path,
                kept=False,
                train_frames=dataset.frames("train"),
                test_frames=dataset.frames("test"),
                figures=figures,
                synthetic_groundtruth=truth.synthetic,
            )
        )
    return done
