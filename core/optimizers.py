"""Optimizers with torch.optim's update rules, stepping every parameter at once through flat buffers.

All of a model's parameters live in one contiguous array (and their gradients in another), so an update
is a handful of vector operations whatever the number of layers; SGD's go through the BLAS where it can
(core/blas.py: on its threads, and ``p -= lr v`` in one pass).
"""

from __future__ import annotations

import math

from . import blas
from .errors import ConfigError
from .spec import Option, check_options, unknown_name

# Momentum buffers of dead units decay towards float32 subnormals, which CPUs handle very slowly;
# every so often such values are flushed to zero (they change no result a float32 model can show).
FLUSH_EVERY = 100
TINY = 1e-30
# SGD's scaled momentum buffer (SGD._update_scaled) takes its scale in once the scale falls below this: every 88 steps
# at momentum 0.9, every 917 at 0.99. Then g / c stays within a factor 10^4 of g.
RESCALE_BELOW = 1e-4


class Optimizer:
    """Base: ``bind(xp, size, dtype)`` allocates state, ``step(p, g)`` updates the flat parameters in place."""

    name = ""
    options: dict[str, Option] = {}

    def __init__(self, where: str = "optimizer", **config):
        self.cfg = check_options(where, self.options, config)
        self.lr = self.cfg["lr"]
        self.t = 0

    def bind(self, xp, size: int, dtype) -> None:
        self.xp = xp
        self.use_blas = size >= blas.MIN_SIZE  # worth a try (a small network's step is tens of microseconds)
        self.scratch = xp.empty(size, dtype=dtype)
        # the state buffers by torch.optim's names, as this optimizer keeps them (SGD's momentum may be scaled: see
        # scalars and plain_state); a stopped run saves them with scalars() and a resumed one restores both, so that it
        # goes on exactly as if it had not stopped
        self.state = {name: xp.zeros(size, dtype=dtype) for name in self.state_names()}

    def scalars(self) -> dict[str, float]:
        """Numbers besides the buffers and the step count that the next steps depend on (saved with a stopped run)."""
        return {}

    def load_scalars(self, values: dict[str, float]) -> None:
        """Restore what ``scalars`` gave (names it does not know are ignored; missing ones take their start value)."""

    def plain_state(self) -> dict:
        """The state as torch.optim holds it (``state`` itself where it is kept so)."""
        return self.state

    def state_names(self) -> tuple[str, ...]:
        return ()

    def step(self, p, g) -> None:
        self.t += 1
        self._update(p, g)
        if self.t % FLUSH_EVERY == 0:
            for buf in self.state.values():
                buf[self.xp.abs(buf) < TINY] = 0.0

    def _update(self, p, g) -> None:
        if self.use_blas and blas.axpy(-self.lr, g, p):  # p -= lr g on the BLAS's threads, where it can
            return
        xp, s = self.xp, self.scratch
        xp.multiply(g, self.lr, out=s)
        p -= s

    def config(self) -> dict:
        return {"name": self.name, **self.cfg}


class SGD(Optimizer):
    """buf = momentum buf + g; step = g + momentum buf (nesterov) or buf; p -= lr step."""

    name = "sgd"
    options = {
        "lr": Option("float", 0.01, min=0.0, min_exclusive=True, help="learning rate"),
        "momentum": Option("float", 0.0, min=0.0, max=1.0, help="momentum factor"),
        "nesterov": Option("bool", False, help="Nesterov momentum (needs momentum > 0)"),
    }

    def __init__(self, where: str = "optimizer", **config):
        super().__init__(where, **config)
        if self.cfg["nesterov"] and self.cfg["momentum"] == 0:
            # PyTorch refuses this too: without momentum, Nesterov would silently be plain SGD
            raise ConfigError(f"{where}.nesterov: Nesterov momentum needs momentum > 0 (got momentum 0)")
        self.scale = 1.0  # the momentum buffer as stored, times this, is torch.optim's (see _update_scaled)

    def state_names(self):
        return ("momentum_buffer",) if self.cfg["momentum"] > 0 else ()

    def scalars(self) -> dict[str, float]:
        return {"momentum_scale": self.scale}

    def load_scalars(self, values: dict[str, float]) -> None:
        self.scale = float(values.get("momentum_scale", 1.0))

    def plain_state(self) -> dict:
        if self.scale == 1.0:
            return self.state
        return {"momentum_buffer": self.state["momentum_buffer"] * self.scale}

    def _fold(self) -> None:
        """Take the scale into the buffer (see _update_scaled)."""
        if self.scale != 1.0:
            buf = self.state["momentum_buffer"]
            if not blas.scal(self.scale, buf):
                buf *= self.scale
            self.scale = 1.0

    def _update(self, p, g):
        m = self.cfg["momentum"]
        if m == 0:
            return super()._update(p, g)
        if self.use_blas and self._update_scaled(p, g, m):
            return
        self._fold()
        xp, s, buf = self.xp, self.scratch, self.state["momentum_buffer"]
        buf *= m
        buf += g
        if self.cfg["nesterov"]:
            xp.multiply(buf, m, out=s)
            s += g
            s *= self.lr
        else:
            xp.multiply(buf, self.lr, out=s)  # one pass fewer than copying buf first
        p -= s

    def _update_scaled(self, p, g, m: float) -> bool:
        """The update through the BLAS, with the momentum buffer kept as b / c: buf = c b, c shrinking by m each step.

        Then buf = m buf + g is b += g / c (c already multiplied by m), and p -= lr buf is p -= lr c b: two passes
        (axpy) where scaling the buffer took a third (W1's update: 112-118 -> 59-61 us of a step). Dead units' buffers
        no longer decay towards subnormals either. Every so often (c below RESCALE_BELOW) the scale goes into the
        buffer. ``plain_state`` gives torch.optim's buffer; a stopped run saves b and c (``scalars``), so that the
        resumed one goes on with the same numbers. False, with nothing done, where the BLAS cannot take these arrays.
        """
        buf = self.state["momentum_buffer"]
        if self.scale < RESCALE_BELOW:
            if not blas.scal(self.scale, buf):
                return False
            self.scale = 1.0
        c = self.scale * m
        if not blas.axpy(1.0 / c, g, buf):
            return False
        self.scale = c
        if self.cfg["nesterov"] and not blas.axpy(-self.lr, g, p):  # p -= lr (g + m buf)
            p -= self.lr * g
        a = -self.lr * (m * c if self.cfg["nesterov"] else c)
        if not blas.axpy(a, buf, p):
            p += a * buf
        return True


class Adagrad(Optimizer):
    """sum += g^2; p -= lr g / (sqrt(sum) + eps)."""

    name = "adagrad"
    options = {
        "lr": Option("float", 0.01, min=0.0, min_exclusive=True, help="learning rate"),
        "eps": Option("float", 1e-10, min=0.0, help="added to the denominator"),
    }

    def state_names(self):
        return ("sum",)

    def _update(self, p, g):
        xp, s, acc = self.xp, self.scratch, self.state["sum"]
        xp.multiply(g, g, out=s)
        acc += s
        xp.sqrt(acc, out=s)
        s += self.cfg["eps"]
        xp.divide(g, s, out=s)
        s *= self.lr
        p -= s


class RMSProp(Optimizer):
    """avg = decay avg + (1 - decay) g^2; p -= lr g / (sqrt(avg) + eps)."""

    name = "rmsprop"
    options = {
        "lr": Option("float", 0.01, min=0.0, min_exclusive=True, help="learning rate"),
        "decay": Option("float", 0.99, min=0.0, max=1.0, help="decay of the squared-gradient average"),
        "eps": Option("float", 1e-8, min=0.0, help="added to the denominator"),
    }

    def state_names(self):
        return ("square_avg",)

    def _update(self, p, g):
        xp, s, avg = self.xp, self.scratch, self.state["square_avg"]
        decay = self.cfg["decay"]
        avg *= decay
        xp.multiply(g, g, out=s)
        s *= 1.0 - decay
        avg += s
        xp.sqrt(avg, out=s)
        s += self.cfg["eps"]
        xp.divide(g, s, out=s)
        s *= self.lr
        p -= s


class Adam(Optimizer):
    """m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)."""

    name = "adam"
    options = {
        "lr": Option("float", 0.001, min=0.0, min_exclusive=True, help="learning rate"),
        "beta1": Option("float", 0.9, min=0.0, max=1.0, help="decay of the gradient average"),
        "beta2": Option("float", 0.999, min=0.0, max=1.0, help="decay of the squared-gradient average"),
        "eps": Option("float", 1e-8, min=0.0, help="added to the denominator"),
    }

    def state_names(self):
        return ("exp_avg", "exp_avg_sq")

    def _update(self, p, g):
        xp, s = self.xp, self.scratch
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        b1, b2 = self.cfg["beta1"], self.cfg["beta2"]
        m *= b1
        xp.multiply(g, 1.0 - b1, out=s)
        m += s
        v *= b2
        xp.multiply(g, g, out=s)
        s *= 1.0 - b2
        v += s
        bc1 = 1.0 - b1**self.t
        bc2 = 1.0 - b2**self.t
        xp.sqrt(v, out=s)
        s *= 1.0 / math.sqrt(bc2)
        s += self.cfg["eps"]
        xp.divide(m, s, out=s)
        s *= self.lr / bc1
        p -= s


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adagrad, RMSProp, Adam)}
OPTIMIZER_NAMES = tuple(OPTIMIZERS)


def make_optimizer(config: dict | str, where: str = "optimizer") -> Optimizer:
    """``{name: adam, lr: 0.01}`` (or just ``"adam"``) -> an optimizer with defaults filled in."""
    config = {"name": config} if isinstance(config, str) else dict(config)
    name = config.pop("name", None)
    if name not in OPTIMIZERS:
        raise unknown_name(f"{where}.name", "optimizer", name, OPTIMIZER_NAMES)
    return OPTIMIZERS[name](where, **config)


def apply_penalty(xp, p, g, l1: float = 0.0, l2: float = 0.0) -> None:
    """Add the gradients of l2/2 ||W||^2 (l2 W) and l1 ||W||_1 (l1 sign W) to ``g`` in place.

    ``p`` and ``g`` are the regularized slice (weights only) of the flat buffers.
    """
    if l2:
        g += l2 * p
    if l1:
        g += l1 * xp.sign(p)


def penalty_value(xp, p, l1: float = 0.0, l2: float = 0.0) -> float:
    """l2/2 ||W||^2 + l1 ||W||_1, the term whose gradient apply_penalty adds."""
    total = 0.0
    if l2:
        total += 0.5 * l2 * float((p * p).sum())
    if l1:
        total += l1 * float(xp.abs(p).sum())
    return total


def clip_grad_norm(xp, g, max_norm: float) -> float:
    """Scale ``g`` in place so that its L2 norm is at most ``max_norm`` (torch's clip_grad_norm_).

    Returns the norm before clipping.
    """
    norm = float(xp.sqrt((g * g).sum()))
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        g *= coef
    return norm
