"""Which step and snapshot events a run's record keeps, so that a long run's folder stays small.

A step line costs about 150 bytes and a snapshot of a Playground-sized model about 6 kB plus a 6 kB weight frame;
recorded in full, a 1,000-epoch spiral run took 15 MB. The record keeps every event early in a run and ever fewer
as it goes on, by the same rule for steps (counted by global step) and snapshots (counted by snapshot, step //
monitor.every_steps): the first ``dense`` are all kept; after that, each stretch as long as everything before
it (``dense`` to 2 ``dense``, then to 4 ``dense``, ...) keeps ``per_octave`` evenly spaced ones. So a record holds
about dense + per_octave * log2(n / dense) of n: it grows with the logarithm of a run's length, its early part
(where a run changes fastest) is dense, and at any moment of a replay the second half of the run so far still has
``per_octave`` of them, enough for the curves and pictures drawn over it. A snapshot's weight frame costs 4 bytes a
parameter: models of up to FRAME_FULL_PARAMS parameters (Playground's networks are far smaller) get one at every
recorded snapshot, and each doubling beyond halves ``dense`` and ``per_octave`` for frames (one a doubling of the
run at least), so that a mid-sized model's frames do not outweigh the rest of its record.

The rule depends on the step alone, never on the clock or on the planned epochs: the same session records the same
lines run after run, a run extended past its planned epochs (a resumed run with more epochs) records the lines an
uninterrupted run of that length would, and a run resumed after a periodic checkpoint records again, at the same
steps, the lines it dropped (and writes the same frames). Every other event (epochs, diagnoses, boosting rounds,
the end) is recorded whole, and the app is sent every event live: only the record is thinned.

A step line stands for the steps since the line before it: ``loss`` is its own batch's loss (so the noise a curve
of the lines shows is the batches' noise, as in the live chart); where that is more than one step, ``span`` says
how many and ``mean_loss`` is their mean batch loss (every step counts toward some line's mean). A line without
them stands for its own step, as every line of a run recorded before thinning does. A resumed run's first line
counts only the steps trained since the resume. A run that ends between two epochs (stopped, failed) records its
last step before its end line if the rule left it out, so that its record says where it stopped (a resumed run
goes on from there); an epoch's end says so already, and lines stay in the order of their steps.
"""

from __future__ import annotations

from dl_lab.sessions.events import FINAL, SnapshotTaken, StepEnded, to_record

__all__ = [
    "FRAME_FULL_PARAMS",
    "SNAPSHOT_DENSE",
    "SNAPSHOT_PER_OCTAVE",
    "STEP_DENSE",
    "STEP_PER_OCTAVE",
    "RecordThinning",
    "frame_rule",
    "kept",
]

STEP_DENSE, STEP_PER_OCTAVE = 256, 128  # 1,219 lines for 50,000 steps (1,000 spiral epochs), 128 a doubling after
SNAPSHOT_DENSE, SNAPSHOT_PER_OCTAVE = 32, 8  # 63 snapshots of 500, every one of a run's first 32
SNAPSHOTS = (SNAPSHOT_DENSE, SNAPSHOT_PER_OCTAVE)
FRAME_FULL_PARAMS = 4096  # a 16 kB frame at every recorded snapshot; larger models, fewer frames


def kept(n: int, dense: int, per_octave: int) -> bool:
    """Whether the ``n``-th (1-based) step or snapshot of a run is recorded. ``dense / per_octave`` is a power of
    two, so that each stretch (dense * 2^k, dense * 2^(k+1)] keeps exactly ``per_octave``."""
    if n <= dense:
        return n >= 1
    octave = ((n - 1) // dense).bit_length() - 1
    return n % ((dense << octave) // per_octave) == 0


def frame_rule(params: int) -> tuple[int, int]:
    """(dense, per_octave) for the weight frames of a model of ``params`` parameters: the snapshots' rule, halved
    for each doubling beyond FRAME_FULL_PARAMS (every frame falls on a recorded snapshot)."""
    shrink = 1
    while FRAME_FULL_PARAMS * shrink < params:
        shrink *= 2
    return max(1, SNAPSHOT_DENSE // shrink), max(1, SNAPSHOT_PER_OCTAVE // shrink)


class RecordThinning:
    """The metrics.jsonl lines of a run's events, thinned as the module says; one per recorder.

    ``every_steps`` is the session's monitor.every_steps (snapshots are taken at its multiples), ``params`` the
    model's parameter count (the size of a weight frame)."""

    def __init__(self, every_steps: int, params: int) -> None:
        self.every_steps = max(1, every_steps)
        self.frames = frame_rule(params)
        self.pending: StepEnded | None = None  # the last step seen and not recorded
        self.losses = 0.0  # sum of the batch losses since the last step line, and how many
        self.count = 0

    def records(self, event) -> list[dict]:
        """The lines ``event`` makes (none for a step or snapshot left out; the run's last step before its end)."""
        if isinstance(event, StepEnded):
            return self._step(event)
        if isinstance(event, SnapshotTaken) and not kept(event.step // self.every_steps, *SNAPSHOTS):
            return []
        lines = [self._line(self.pending)] if isinstance(event, FINAL) and self.pending is not None else []
        self.pending = None  # written after this line, the step would be out of order (this line says where the run is)
        return [*lines, to_record(event)]

    def keeps_frame(self, event: SnapshotTaken) -> bool:
        """Whether a recorded snapshot's weights are saved too (frames/)."""
        return kept(event.step // self.every_steps, *self.frames)

    def _step(self, event: StepEnded) -> list[dict]:
        self.losses += event.loss
        self.count += 1
        if not kept(event.step, STEP_DENSE, STEP_PER_OCTAVE):
            self.pending = event
            return []
        return [self._line(event)]

    def _line(self, event: StepEnded) -> dict:
        line = to_record(event)
        if self.count > 1:
            line.update(span=self.count, mean_loss=self.losses / self.count)
        self.pending, self.losses, self.count = None, 0.0, 0
        return line
