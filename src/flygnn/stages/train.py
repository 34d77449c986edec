"""Train one condition end to end: dataset → trainer → bundle → scores → figure.

A bundle folder holds, beside the three files that define the model (see
:mod:`flygnn.bundle`), what is needed to continue its training on any machine:

    training-state/          the resumable state (:mod:`flygnn.train.state`)
    training-history.csv     loss terms every log window, recovery every score_every iterations
    training-loss.png/.pdf   the loss terms and speed against iterations

While a leg runs, states go to ``data/cache/training/<preset>/<condition>/`` every
few minutes and on Ctrl-C/SIGTERM; when it ends (its iterations reached, its time
limit, or SIGUSR1) the bundle is written with the final state inside — commit that.
``--resume`` continues the newest of the two states that matches the configuration,
network and dataset.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from flygnn.bundle import HISTORY_FILE, LOSS_FIGURE_STEM, STATE_FOLDER
from flygnn.conditions import Condition, load_conditions, select_conditions
from flygnn.errors import FlygnnError
from flygnn.metric_names import RECOVERY_METRICS
from flygnn.project import ProjectLayout
from flygnn.train import (
    Trainer,
    TrainingConfig,
    TrainingFrames,
    TrainingState,
    load_training_config,
    rate_changes,
    read_history,
    resolve_device,
    write_history,
)
from flygnn.train.frames import frames_bytes
from flygnn.train.state import peek_iteration, peek_preset


def write_training_record(
    history: list[dict[str, Any]],
    directory: str | Path,
    title: str | None = None,
    legs: Sequence[dict[str, Any]] = (),
) -> list[Path]:
    """``training-history.csv`` and the loss figure ``training-loss.{png,pdf}`` in ``directory``
    (``legs``: the training legs, whose learning-rate changes the figure marks)."""
    from flygnn.figures.style import apply_style, save_figure
    from flygnn.figures.training import plot_training_loss

    directory = Path(directory)
    paths = [write_history(history, directory / HISTORY_FILE)]
    logged = [row for row in history if "loss" in row]
    if logged:
        apply_style()
        paths += save_figure(plot_training_loss(logged, title, rate_changes(legs)), directory, LOSS_FIGURE_STEM)
    return paths


def _choose_state(candidates: list[Path]) -> Path | None:
    """The candidate state folder with the highest iteration (None when there is none)."""
    found = [(iteration, path) for path in candidates if (iteration := peek_iteration(path)) is not None]
    return max(found, key=lambda item: item[0])[1] if found else None


# what a training process holds beside its frames: the model, Adam's moments, a batch's
# activations, the scoring (measured at full size: 9.5 GB resident with 7.4 GB of frames)
TRAINING_OVERHEAD_BYTES = 2 << 30


def available_memory() -> int | None:
    """Memory the system can give a new process now (bytes; Linux's MemAvailable), None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _warn_memory(frames: int, checkpoint_every_s: float) -> None:
    """Say so before loading when the frames will not fit: a run killed for memory loses what it
    trained since its last state, so the user should know before, not find out after."""
    available = available_memory()
    needed = frames + TRAINING_OVERHEAD_BYTES
    if available is not None and needed > available:
        print(
            f"warning: this run needs about {needed / 1e9:.1f} GB of memory (its training frames "
            f"{frames / 1e9:.1f} GB) but {available / 1e9:.1f} GB are available now; the system may kill it. "
            f"Its state is saved every {checkpoint_every_s / 60:.0f} min and --resume continues from there.",
            file=sys.stderr,
        )


def _warn_rate_change(state: TrainingState, config: TrainingConfig) -> None:
    """Say so when a resumed run starts at another learning-rate factor than the leg it continues
    (a forgotten --lr-factor or --lr-steps would otherwise pass unnoticed)."""
    if not state.legs:
        return
    before = float(state.legs[-1].get("lr_factor", 1.0))
    now = config.lr_factor_at(state.iteration)
    if before != now:
        print(
            f"note: the leg being continued ran at learning-rate factor {before:g}; this one starts at {now:g} "
            "(set by --lr-factor / --lr-steps, default 1)",
            file=sys.stderr,
        )


def warn_each_message_once(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` whose warnings are shown the first time their text appears, not on every call.

    The periodic scoring sees the same frames every time, so a warning about them (neurons that
    never move at σ = 0) would repeat every ``score_every`` iterations: Python's once-per-place
    rule does not hold, because any ``warnings.catch_warnings`` on the way (the model's, the
    clustering's) resets what it remembers."""
    seen: set[tuple[type, str]] = set()

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = function(*args, **kwargs)
        for warning in caught:
            key = (warning.category, str(warning.message))
            if key not in seen:
                seen.add(key)
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return result

    return wrapped


def train_condition(
    condition: str | Condition,
    preset: str,
    *,
    dataset: str | Path | None = None,
    out: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    fresh: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
    conditions_file: str | Path | None = None,
    time_limit_s: float | None = None,
    stop: threading.Event | None = None,
    configuration_sigma: float | None = None,
) -> Path:
    """Train the GNN for one condition and write its checkpoint bundle; returns its path.

    ``condition`` names an entry of ``data/conditions.yaml`` (or is a :class:`Condition`
    outside it, as a replicate's or a noise sweep's); its σ must equal the dataset's.
    ``configuration_sigma`` trains with another σ's published configuration. Paths not given are those of the project that contains the cwd
    (:class:`flygnn.project.ProjectLayout`); given ones are taken from the cwd.
    ``resume`` continues the newest matching state (the running leg's in
    ``checkpoint_dir`` or the one committed in the bundle) and replaces the bundle;
    Without it, an existing state is an error unless ``fresh`` (start over).
    """
    from flygnn.analysis import recovery_metrics
    from flygnn.bundle import bundle_meta, portable_path, save_bundle
    from flygnn.connectome import load_network
    from flygnn.dataset import open_dataset

    if resume and fresh:
        raise FlygnnError("--resume and --fresh exclude each other.")
    layout = ProjectLayout.find(required=False, conditions_file=conditions_file)
    if isinstance(condition, Condition):
        entry, condition = condition, condition.name
    else:
        (entry,) = select_conditions(load_conditions(layout.conditions_file), [condition])
    dataset_path = Path(dataset) if dataset is not None else layout.dataset_path(preset, condition)
    out = Path(out) if out is not None else layout.bundle_dir(condition)
    checkpoint_dir = (
        Path(checkpoint_dir) if checkpoint_dir is not None else layout.training_cache_dir(preset, condition)
    )
    continuing = resume
    if out.exists() and not (overwrite or continuing):
        raise FlygnnError(
            f"bundle {out} already exists; pass --overwrite to replace it, --resume to continue it (or choose --out)."
        )
    device_ = resolve_device(device)
    config = load_training_config(preset, entry.sigma, overrides, configuration_sigma=configuration_sigma)
    if config.derived_from is not None and configuration_sigma is None:
        print(
            f"σ = {entry.sigma:g} has no published settings; using those of σ = {config.derived_from:g} "
            "(recorded in bundle.json as derived_from)",
            file=sys.stderr,
        )
    states = [checkpoint_dir, out / STATE_FOLDER]
    existing = _choose_state(states)
    chosen = existing if resume else None
    if resume and chosen is None:
        raise FlygnnError(
            f"nothing to resume: no training state in {checkpoint_dir} or {out / STATE_FOLDER}. Start without --resume."
        )
    if not continuing and not fresh and existing is not None:
        raise FlygnnError(
            f"a training state of an earlier run exists ({existing}); pass --resume to continue it "
            "or --fresh to start over."
        )
    # a state trained with another preset (σ = 0's committed bundle is the paper preset's)
    # cannot go on with this one's dataset or settings: every refusal below says so
    saved_preset = peek_preset(chosen) if chosen is not None else None
    other_preset = (
        f" The state was trained with --preset {saved_preset}: resume it with that preset "
        f"(`flygnn simulate --preset {saved_preset} --conditions {condition}` regenerates its dataset)."
        if saved_preset not in (None, preset)
        else ""
    )
    if not dataset_path.exists():
        raise FlygnnError(
            f"dataset {dataset_path} not found; simulate it first (`flygnn simulate --preset {preset} "
            f"--conditions {condition}`; it is deterministic, so a resumed run gets the same frames) or pass --dataset."
            if not other_preset
            else f"dataset {dataset_path} not found.{other_preset}"
        )
    ds = open_dataset(dataset_path)
    if not entry.matches(ds.sigma):
        raise FlygnnError(
            f"dataset {dataset_path} was simulated at σ = {ds.sigma:g} but condition {condition} has σ = {entry.sigma:g}; "
            "pass the matching --dataset."
        )
    network = load_network(extent=int(ds.attrs["extent"]))
    ds.check_network(network)
    fingerprint = ds.fingerprint()

    initial_state, history, note = None, [], "fresh start"
    if chosen is not None:
        initial_state = TrainingState.load(chosen)
        try:
            initial_state.check_compatible(config, network.fingerprint(), fingerprint, f"training state {chosen}")
        except FlygnnError as exc:
            raise FlygnnError(f"{exc}{other_preset}") from None
        history = read_history((out if chosen == out / STATE_FOLDER else chosen) / HISTORY_FILE)
        if not history and chosen == checkpoint_dir:
            history = read_history(out / HISTORY_FILE)
        note = f"resumed from {layout.relative(chosen)} at iteration {initial_state.iteration}"
        _warn_rate_change(initial_state, config)
        if initial_state.iteration >= config.iterations:
            raise FlygnnError(
                f"{chosen} is already at iteration {initial_state.iteration} ≥ --iterations {config.iterations}; "
                "pass a larger --iterations to continue."
            )
    _warn_memory(
        frames_bytes(ds.frames("train"), network.n_neurons, len(network.input_indices)), config.checkpoint_every_s
    )
    frames = TrainingFrames.from_dataset(ds, network.input_indices)

    activity = frames.activity(config.activity_frames, config.seed)
    ground_truth = ds.ground_truth()

    @warn_each_message_once
    def scorer(model) -> dict[str, float]:
        return recovery_metrics(model, activity, ground_truth)

    def save_state(state: TrainingState) -> None:
        state.save(checkpoint_dir)
        write_history(trainer.history_, checkpoint_dir / HISTORY_FILE)

    trainer = Trainer(
        config,
        network,
        device=device_,
        progress=progress,
        dataset_fingerprint=fingerprint,
        save_state=save_state,
        scorer=scorer,
        time_limit_s=time_limit_s,
        stop=stop,
    )
    trainer.fit(frames, initial_state=initial_state, history=history, note=note)
    recovery = {k: v for k, v in trainer.history_[-1].items() if k in RECOVERY_METRICS}
    if len(recovery) < len(RECOVERY_METRICS):
        recovery = scorer(trainer.model_.cpu().eval())
    training = {
        "preset": preset,
        "config": config.to_dict(),
        "iterations": trainer.iteration_,
        "wall_time_s": round(trainer.wall_time_s_, 1),
        "final_loss": trainer.final_loss_,
        "seed": config.seed,
        "device": str(device_),
        "xnorm": trainer.xnorm_,
        "threads": torch.get_num_threads(),
        "training_frames": frames.n_frames,
        "legs": trainer.legs_,
        "stopped_early": trainer.stopped_early_,
    }
    dataset_record = {"path": portable_path(dataset_path), "fingerprint": fingerprint}
    meta = bundle_meta(condition, entry.sigma, training, dataset_record, ground_truth, recovery)
    final_state = trainer.state_

    def extra_files(folder: Path) -> None:
        write_training_record(trainer.history_, folder, f"{condition}: training loss", trainer.legs_)
        final_state.save(folder / STATE_FOLDER)

    save_bundle(out, trainer.model_.cpu(), meta, activity, overwrite=True, extra_files=extra_files)
    return out
