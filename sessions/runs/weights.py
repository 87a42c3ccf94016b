"""The weights a run folder holds, by the training step they were recorded at: the replay draws its pictures from
them, `dl-lab inspect` walks them (the landscape's training path, the inspect screen's checkpoints)."""

from __future__ import annotations

import json
from pathlib import Path


def _epoch_steps(run_dir: Path) -> dict[int, int]:
    """Epoch -> the step it ended at, from metrics.jsonl (the last record wins, for a resumed run)."""
    steps: dict[int, int] = {}
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return steps
    with path.open() as f:
        for line in f:
            if '"event":"epoch"' not in line:
                continue
            try:
                record = json.loads(line)
                steps[int(record["epoch"])] = int(record["step"])
            except (ValueError, KeyError, TypeError):
                continue
    return steps


def _final_step(run_dir: Path, epoch_steps: dict[int, int]) -> int | None:
    try:
        return int(json.loads((run_dir / "summary.json").read_text())["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return max(epoch_steps.values()) if epoch_steps else None


def recorded_weights(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, file) of every recorded weight vector of the run, one per step, in step order: initial (step 0),
    the frames, the epoch checkpoints and final (or last, for a stopped run)."""
    run_dir = Path(run_dir)
    checkpoints, frames = run_dir / "checkpoints", run_dir / "frames"
    found: dict[int, Path] = {}
    if (checkpoints / "initial.npz").is_file():
        found[0] = checkpoints / "initial.npz"
    for path in sorted(frames.glob("step-*.npz")):
        if path.stem[5:].isdigit():
            found.setdefault(int(path.stem[5:]), path)
    epoch_steps = _epoch_steps(run_dir)
    for path in sorted(checkpoints.glob("epoch-*.npz")):
        if path.stem[6:].isdigit() and int(path.stem[6:]) in epoch_steps:
            found.setdefault(epoch_steps[int(path.stem[6:])], path)
    end = _final_step(run_dir, epoch_steps)
    for name in ("final", "last"):
        path = checkpoints / f"{name}.npz"
        if path.is_file() and end is not None:
            found[end] = path  # the end of training: the same weights as a frame at that step, if any
            break
    return sorted(found.items())
