"""How much memory a model will need to train, estimated from shapes before anything is allocated.

Pure arithmetic on built layers (shape inference declares every parameter without allocating it):

- parameters, their gradients, the optimizer's scratch vector and state (adam: 2 more copies, momentum: 1), and
  one host copy of the parameters (a checkpoint, or the monitor's "before" snapshot);
- per training sample: what each layer keeps from forward to backward and the buffers it keeps between steps
  (conv2d's im2col), plus the largest working set of one layer's forward or backward;
- per evaluation sample (``predict_batches`` runs batches of up to 1024 validation samples): one layer's input,
  output and scratch at a time, while the training step's arrays are still referenced;
- the monitor's snapshot (a forward that keeps every layer's output, then statistics over parameter-sized
  copies) and the weights' initialization (drawn in float64 on the host, one parameter at a time).

The peak is the largest of these phases. ``check`` refuses a model whose peak exceeds the memory available
(``available_memory``: MemAvailable, a cgroup limit, or ``DL_LAB_MEMORY_LIMIT``), naming the layer that
dominates; above ``WARN_SHARE`` of it, the estimate carries a warning instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, ModelError
from .layers.base import Footprint, Layer, prod

LIMIT_ENV = "DL_LAB_MEMORY_LIMIT"
WARN_SHARE = 0.5  # warn above this share of the available memory
EVAL_BATCH = 1024  # predict_batches' default batch size
INIT_ITEMSIZE = 8  # initializers draw float64 on the host before the cast
# The monitor's parameter statistics: weights and gradients gathered, their histograms' temporaries, the update
# (and its float64 square) against the parameters before the step: about this many parameter-sized arrays.
MONITOR_COPIES = 6
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


class MemoryLimitError(ModelError):
    """The model would need more memory to train than the machine has (a ModelError: exit 2, file and line)."""


@dataclass(frozen=True)
class Budget:
    """What the estimate needs beyond the layers: the step's batch, the optimizer's state, the other passes.

    ``optimizer_copies``: arrays the optimizer keeps the size of the parameters (its scratch vector plus its
    state: 1 for plain SGD, 2 with momentum, 3 for adam). ``eval_batch``: the evaluation batch (0: none).
    ``probe_batch``: the monitor's forward, which keeps every layer's output (0: no monitor).
    ``limit``: bytes available (None: ask the machine, see ``available_memory``).
    """

    batch_size: int
    optimizer_copies: int = 1
    optimizer_name: str = "the optimizer"
    eval_batch: int = 0
    probe_batch: int = 0
    limit: int | None = None
    backend: str = "numpy"


@dataclass(frozen=True)
class Part:
    """One layer's share of the peak, in bytes, and what it is made of."""

    where: str
    params: int  # parameters, gradients, optimizer state and the host copy
    activations: int  # kept activations and scratch of the phase at its peak
    detail: str = ""

    @property
    def total(self) -> int:
        return self.params + self.activations


@dataclass
class Estimate:
    """The estimated peak bytes and the phase it happens in; ``parts`` per top-level layer."""

    peak: int
    phase: str  # "training", "evaluation", "monitor", "initialization"
    param_bytes: int
    parts: list[Part]
    available: int | None = None
    limit_source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def dominant(self) -> Part | None:
        return max(self.parts, key=lambda p: p.total) if self.parts else None

    def line(self) -> str:
        """One line for a report: ``memory: about 12.3 MB at the peak of a training step (of 22.9 GB available)``."""
        of = f" (of {format_bytes(self.available)} available)" if self.available else ""
        return f"memory: about {format_bytes(self.peak)} at the peak of {_PHASES[self.phase]}{of}"


_PHASES = {
    "training": "a training step",
    "evaluation": "an evaluation pass",
    "monitor": "training with the monitor's snapshots",
    "initialization": "the weights' initialization",
}


def format_bytes(n: float) -> str:
    """Binary units, as ``DL_LAB_MEMORY_LIMIT`` reads them: 1 GB = 2**30 bytes."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def parse_bytes(text: str, where: str = LIMIT_ENV) -> int:
    """``"2G"``, ``"512M"``, ``"1.5GB"`` or ``"1073741824"`` -> bytes (binary units: 1G = 2**30)."""
    found = _SIZE.match(str(text))
    if not found:
        raise ConfigError(f"{where}: expected a size in bytes such as 2G, 512M or 1073741824, got {text!r}")
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


def _meminfo() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup() -> int | None:
    """What this process's cgroup (v2) still allows: memory.max - memory.current, when a limit is set."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        current = int((base / "memory.current").read_text().strip()) if (base / "memory.current").exists() else 0
        return max(int(limit) - current, 0)
    except (OSError, ValueError):
        return None


def _device_free(backend: str) -> int | None:
    if backend != "cupy":
        return None
    try:
        from .backend import import_cupy

        return int(import_cupy().cuda.runtime.memGetInfo()[0])
    except Exception:  # no device to ask: no device limit
        return None


def available_memory(backend: str = "numpy") -> tuple[int | None, str]:
    """(bytes available, where that number comes from); ``DL_LAB_MEMORY_LIMIT`` overrides the machine."""
    override = os.environ.get(LIMIT_ENV)
    if override:
        return parse_bytes(override), LIMIT_ENV
    if backend == "cupy":
        free = _device_free(backend)
        return free, "the GPU's free memory" if free is not None else ""
    found = [(v, src) for v, src in ((_meminfo(), "MemAvailable"), (_cgroup(), "the cgroup's memory.max")) if v]
    if not found:
        value = _sysconf()
        return value, "available pages" if value else ""
    return min(found)


def layer_footprint(layer: Layer) -> Footprint:
    """A layer's footprint; a block's is its layers' (kept and scratch add up, the largest work counts) plus
    the sum it returns."""
    children = layer.children()
    if not children:
        return layer.footprint()
    parts = [layer_footprint(c) for c in children]
    out = prod(layer.output_shape)
    return Footprint(
        kept=sum(p.kept for p in parts) + out,
        scratch=sum(p.scratch for p in parts),
        work=max(p.work for p in parts) + out,
        eval_work=max(
            p.eval_work + prod(c.input_shape) + prod(c.output_shape) for c, p in zip(children, parts, strict=True)
        )
        + out,
    )


def estimate(layers: list[Layer], input_shape, itemsize: int, budget: Budget) -> Estimate:
    """The peak bytes of training ``layers`` (built, not allocated) with ``budget``'s batches and optimizer."""
    b, e, m = max(int(budget.batch_size), 1), max(int(budget.eval_batch), 0), max(int(budget.probe_batch), 0)
    copies = 2 + budget.optimizer_copies + 1  # values, gradients, optimizer, host copy
    sizes = [layer.param_count() for layer in layers]
    feet = [layer_footprint(layer) for layer in layers]
    n_params = sum(sizes)
    param_bytes = n_params * itemsize * copies
    n_in = prod(input_shape)
    outs = [prod(layer.output_shape) for layer in layers]
    ins = [n_in, *outs[:-1]]
    kept = sum(f.kept for f in feet)
    scratch = sum(f.scratch for f in feet)
    last = outs[-1] if outs else 0
    # A training step: the batch, every layer's kept arrays and scratch, the loss's few output-sized arrays,
    # and the largest working set of one layer.
    work = max((f.work for f in feet), default=0)
    step = b * (n_in + kept + scratch + max(work, 3 * last))
    # Evaluation: the training step's arrays stay referenced; one layer at a time holds its input, output and
    # fresh scratch, and every batch's output is kept until they are joined.
    held = b * (n_in + kept + scratch)
    ev_layer = [i + o + f.eval_work for i, o, f in zip(ins, outs, feet, strict=True)]
    evaluation = held + e * max(ev_layer, default=0) + 2 * e * last if e else 0
    # The monitor: every layer's output kept (and the largest working set) on the probe batch.
    monitor = held + m * (n_in + sum(outs) + max((f.eval_work for f in feet), default=0)) if m else 0
    monitor += MONITOR_COPIES * n_params if m else 0
    # Initialization: values and gradients exist; each parameter is drawn in float64, then cast.
    biggest = max((p.size for layer in layers for _, p in layer.parameters()), default=0)
    init = n_params * itemsize * 2 + biggest * (INIT_ITEMSIZE + itemsize)
    phases = {
        "training": param_bytes + step * itemsize,
        "evaluation": param_bytes + evaluation * itemsize,
        "monitor": param_bytes + monitor * itemsize,
        "initialization": init,
    }
    phase = max(phases, key=lambda k: phases[k])
    parts = []
    for layer, size, foot, o, ev in zip(layers, sizes, feet, outs, ev_layer, strict=True):
        if phase == "evaluation":
            acts = (b * (foot.kept + foot.scratch) + e * ev) * itemsize
            detail = f"an evaluation batch of {e:,}"
        elif phase == "monitor":
            acts = (b * (foot.kept + foot.scratch) + m * (o + foot.eval_work)) * itemsize
            detail = f"the monitor's probe of {m:,} samples"
        else:
            acts = b * (foot.kept + foot.scratch + foot.work) * itemsize
            detail = f"a training batch of {b:,}"
        parts.append(Part(layer.where, size * itemsize * copies, acts, detail))
    return Estimate(phases[phase], phase, param_bytes, parts)


def _weights(layer: Layer) -> str:
    p = layer.weight_parameter()
    if p is None:
        return f"{layer.param_count():,} values"
    return f"weight {' x '.join(f'{s:,}' for s in p.shape)}"


def _describe(part: Part, layer: Layer, budget: Budget) -> tuple[str, str]:
    """(what the dominant layer's share is for, the larger part first; what to try)."""
    smaller = {"conv2d": "a smaller kernel or fewer filters", "dense": "fewer units"}.get(layer.kind, "a smaller model")
    copies = (
        "gradients and a copy" if budget.optimizer_copies <= 1 else f"gradients and {budget.optimizer_name}'s state"
    )
    params = f"{format_bytes(part.params)} for parameters, {copies} ({_weights(layer)})"
    acts = f"{format_bytes(part.activations)} for activations and scratch buffers of {part.detail}"
    shares = [(part.params, params), (part.activations, acts)]
    shares.sort(key=lambda s: -s[0])
    what = "about " + " and ".join(text for n, text in shares if n >= shares[0][0] / 10)
    if part.activations > part.params and part.detail.startswith("a training batch"):
        return what, f"a smaller training.batch_size, or {smaller}"
    return what, smaller


def check(layers: list[Layer], input_shape, itemsize: int, budget: Budget) -> Estimate:
    """The estimate; raises ModelError when it does not fit the memory available, naming the dominant layer."""
    est = estimate(layers, input_shape, itemsize, budget)
    limit, source = (budget.limit, "the limit given") if budget.limit is not None else available_memory(budget.backend)
    est.available, est.limit_source = limit, source
    if not limit:
        return est
    dominant = est.dominant
    if est.peak > limit and dominant is not None:
        layer = next(layer for layer in layers if layer.where == dominant.where)
        what, hint = _describe(dominant, layer, budget)
        machine = (
            f"{LIMIT_ENV} allows {format_bytes(limit)}"
            if source == LIMIT_ENV
            else f"this machine has {format_bytes(limit)} available"
        )
        raise MemoryLimitError(
            f"{dominant.where}: {what}; {_PHASES[est.phase]} needs about {format_bytes(est.peak)} in all, and "
            f"{machine}; try {hint}"
        )
    if est.peak > WARN_SHARE * limit:
        where = f"{dominant.where}: " if dominant is not None else ""
        est.warnings.append(
            f"{where}{_PHASES[est.phase]} needs about {format_bytes(est.peak)}, "
            f"{est.peak / limit:.0%} of the {format_bytes(limit)} available"
        )
    return est
