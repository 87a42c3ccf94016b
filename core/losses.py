"""Loss functions, each returning the batch-mean loss and its gradient with respect to the model output.

Classification losses take logits: cross_entropy applies softmax inside (stable log-sum-exp), bce applies
sigmoid inside. Targets are integer class ids (or one-hot rows for cross_entropy and the regression losses).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .activations import _sigmoid_f, _softmax_f, _xp
from .errors import ConfigError
from .spec import unknown_name


def _column(t, out):
    """Targets as a float column matching a one-output model: (N,) or (N, 1) -> (N, 1)."""
    return t.reshape(out.shape).astype(out.dtype, copy=False)


def _one_hot(xp, t, k, dtype):
    eye = xp.zeros((t.shape[0], k), dtype=dtype)
    eye[xp.arange(t.shape[0]), t] = 1.0
    return eye


def _as_dense_targets(xp, out, t):
    """Integer class ids become one-hot rows when the model has several outputs."""
    if t.ndim == 1 and out.ndim == 2 and out.shape[1] > 1 and t.dtype.kind in "iu":
        return _one_hot(xp, t, out.shape[1], out.dtype)
    return t.reshape(out.shape).astype(out.dtype, copy=False)


def _signs(t, out, name):
    """Binary labels as -1/+1 floats shaped like a one-output model: 0/1 and -1/+1 both accepted (0 -> -1).

    Any other value raises a ConfigError (mapping it by 2t - 1 would silently train on the wrong margins).
    """
    xp = _xp(out)
    t = _column(t, out)
    bad = (t != 1.0) & (t != 0.0) & (t != -1.0)
    if bool(bad.any()):
        values = sorted(set(t[bad].tolist()))  # tolist() copies CuPy data to the host too
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise ConfigError(f"{name}: binary targets must be 0/1 or -1/+1, got {shown}")
    return xp.where(t > 0, 1.0, -1.0).astype(out.dtype, copy=False)


class Loss(ABC):
    """``loss(out, target) -> (mean loss, dL/dout)``; ``predict(out)`` turns outputs into answers."""

    name = ""
    fuses: str | None = None  # the output activation computed inside the loss ("softmax", "sigmoid")
    binary = False  # expects a single output unit
    classification = True

    @abstractmethod
    def __call__(self, out, target):
        """(batch-mean loss as a 0-d array, gradient shaped like ``out``)."""

    def predict(self, out):
        """Class ids for classification (argmax, or score > 0 for one-output losses); values otherwise."""
        if not self.classification:
            return out
        if out.ndim == 2 and out.shape[1] > 1:
            return out.argmax(axis=1)
        return (out.reshape(-1) > 0).astype("int64")

    def probabilities(self, out):
        """Class probabilities for display (softmax of logits, sigmoid of one logit)."""
        if out.ndim == 2 and out.shape[1] > 1:
            return _softmax_f(out)
        return _sigmoid_f(out)


class MSE(Loss):
    """mean over all elements of (out - t)^2."""

    name, classification = "mse", False

    def __call__(self, out, target):
        diff = out - _as_dense_targets(_xp(out), out, target)
        return (diff * diff).mean(), diff * (2.0 / diff.size)


class MAE(Loss):
    """mean over all elements of |out - t| (gradient sign(out - t), 0 at equality)."""

    name, classification = "mae", False

    def __call__(self, out, target):
        diff = out - _as_dense_targets(_xp(out), out, target)
        return _xp(out).abs(diff).mean(), _xp(out).sign(diff) * (1.0 / diff.size)


class CrossEntropy(Loss):
    """-mean_n sum_k t_nk log softmax(z_n)_k, with integer ids or one-hot/probability rows as targets."""

    name, fuses = "cross_entropy", "softmax"

    def __call__(self, out, target):
        xp = _xp(out)
        n = out.shape[0]
        shifted = out - out.max(axis=1, keepdims=True)
        logsum = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        logp = shifted - logsum
        grad = xp.exp(logp)
        if target.ndim == 1:
            rows = xp.arange(n)
            loss = -(logp[rows, target].sum() / n)  # = mean(), without NumPy's Python-level wrapper
            grad[rows, target] -= 1.0
        else:
            t = target.astype(out.dtype, copy=False)
            loss = -(t * logp).sum() / n
            grad -= t
        grad *= 1.0 / n
        return loss, grad


class BCE(Loss):
    """mean of max(s, 0) - s t + log(1 + e^-|s|): binary cross-entropy on one logit s, stable for any s."""

    name, fuses, binary = "bce", "sigmoid", True

    def __call__(self, out, target):
        xp = _xp(out)
        t = _column(target, out)
        loss = (xp.maximum(out, 0.0) - out * t + xp.log1p(xp.exp(-xp.abs(out)))).sum() / out.size  # = mean()
        grad = _sigmoid_f(out)
        grad -= t
        grad *= 1.0 / out.shape[0]
        return loss, grad


class Hinge(Loss):
    """Binary (one output, labels 0/1 or -1/+1, 0 read as -1): mean max(0, 1 - t s).

    Several outputs: PyTorch's MultiMarginLoss, mean_n sum_{j != y} max(0, 1 - s_y + s_j) / K.
    """

    name = "hinge"

    def __call__(self, out, target):
        xp = _xp(out)
        n = out.shape[0]
        if out.ndim == 2 and out.shape[1] > 1:
            k = out.shape[1]
            rows = xp.arange(n)
            margins = 1.0 - out[rows, target][:, None] + out
            margins[rows, target] = 0.0
            active = (margins > 0).astype(out.dtype)
            grad = active * (1.0 / (n * k))
            grad[rows, target] = -active.sum(axis=1) / (n * k)
            return (margins * active).sum() / (n * k), grad
        t = _signs(target, out, self.name)
        margin = 1.0 - t * out
        active = margin > 0
        return (margin * active).mean(), -t * active * (1.0 / n)


class Perceptron(Loss):
    """The perceptron criterion mean max(0, -t s), labels 0/1 or -1/+1 (0 read as -1).

    Its gradient is -t x for a misclassified point (t s <= 0, the boundary counted as a mistake so that a
    zero-initialized perceptron learns), so SGD with batch size 1 is exactly the perceptron rule w += lr t x.
    """

    name, binary = "perceptron", True

    def __call__(self, out, target):
        t = _signs(target, out, self.name)
        score = t * out
        wrong = score <= 0
        return (-score * wrong).mean(), -t * wrong * (1.0 / out.shape[0])


class LMS(Loss):
    """ADALINE's least mean squares, 1/2 mean (s - t)^2 on the raw score s, labels 0/1 or -1/+1 (0 read as -1).

    Named after the criterion (Widrow and Hoff's LMS), as ``perceptron`` is; ``mse`` is the regression loss and
    has no classes. The 1/2 makes the gradient (s - t) x, so SGD with batch size 1 is exactly the Widrow-Hoff rule
    w += lr (t - s) x with lr its eta (mse's mean (s - t)^2 would step 2 lr). Every point moves the weights, right
    side or not, until s reaches t; the predicted class is s > 0.
    """

    name, binary = "lms", True

    def __call__(self, out, target):
        diff = out - _signs(target, out, self.name)
        return 0.5 * (diff * diff).mean(), diff * (1.0 / out.shape[0])


LOSSES = {cls.name: cls for cls in (MSE, MAE, CrossEntropy, BCE, Hinge, Perceptron, LMS)}
LOSS_NAMES = tuple(LOSSES)


def get_loss(name: str, where: str = "loss") -> Loss:
    """A loss by name; unknown names list the valid ones."""
    if name not in LOSSES:
        raise unknown_name(where, "loss", name, LOSS_NAMES)
    return LOSSES[name]()
