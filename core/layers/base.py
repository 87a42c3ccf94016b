"""The layer contract every building block follows: build, forward, backward, parameters, config."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ModelError
from ..spec import Option, check_options

if TYPE_CHECKING:
    from ..activations import ActivationFn


_REBIND = (
    "Parameter {0}: {1} is a view of the model's flat {2} buffer; write into it ({1}[...] = x, {1} += x), "
    "never rebind it"
)


class Parameter:
    """A trainable tensor: ``data`` and ``grad`` are views into the model's flat buffers.

    ``regularized`` parameters (weights) receive the L1/L2 penalty; biases and batchnorm's
    scale and shift never do (seed 001: regularize weights, not biases).

    ``transposed``: the flat buffers hold the matrix's transpose, row after row (a dense weight is (out, in), as in
    PyTorch and the checkpoints, and is stored (in, out): the forward GEMM ``x W^T`` and the weight gradient
    ``x^T dz`` then read and write contiguous matrices, which OpenBLAS multiplies 10-25% faster than the
    transposed ones). ``data`` and ``grad`` are the (out, in) views either way; only code that indexes the flat
    buffers sees the order, and goes through ``view`` and ``flat_index``.
    """

    __slots__ = ("_data", "_grad", "init", "name", "offset", "regularized", "shape", "transposed")

    def __init__(self, name: str, shape: tuple[int, ...], init, regularized: bool, transposed: bool = False):
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        self.init = init
        self.regularized = regularized
        self.transposed = transposed and len(self.shape) == 2
        # Backend arrays (NumPy or CuPy), views into the model's flat buffers once it allocates them.
        self._data: Any = None
        self._grad: Any = None
        self.offset = 0  # where the values start in the model's flat buffers

    def bind(self, data, grad, offset: int) -> None:
        """Make ``data`` and ``grad`` the views of the model's flat buffers at ``offset`` (the model calls this)."""
        self._data, self._grad, self.offset = data, grad, offset

    def view(self, flat):
        """This parameter's values in ``flat`` (a vector in the model's layout: its parameters, its gradients, an
        optimizer's state, a direction in weight space), shaped as the parameter: a view, written through."""
        block = flat[self.offset : self.offset + self.size]
        return block.reshape(self.shape[::-1]).T if self.transposed else block.reshape(self.shape)

    def flat_index(self, index: tuple[int, ...]) -> int:
        """Where the entry at ``index`` (in ``shape``) sits in the model's flat buffers."""
        shape, stored = (self.shape[::-1], index[::-1]) if self.transposed else (self.shape, index)
        at = 0
        for i, n in zip(stored, shape, strict=True):
            if not 0 <= i < n:
                raise IndexError(f"index {tuple(index)} is outside {self.name}'s shape {self.shape}")
            at = at * n + int(i)
        return self.offset + at

    # Read-only on purpose: the optimizer updates the flat buffers, so a layer that rebinds ``p.grad = g``
    # instead of writing into it (``p.grad[...] = g``) would compute correct gradients that nothing ever uses.
    @property
    def data(self) -> Any:
        return self._data

    @data.setter
    def data(self, value) -> None:
        if value is not self._data:  # ``p.data += x`` updates in place, then assigns the same array back
            raise AttributeError(_REBIND.format(self.name, "data", "values"))

    @property
    def grad(self) -> Any:
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not self._grad:  # ``p.grad += x`` updates in place, then assigns the same array back
            raise AttributeError(_REBIND.format(self.name, "grad", "gradient"))

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"Parameter({self.name}, shape={self.shape})"


@dataclass(frozen=True)
class Footprint:
    """Values (not bytes) one sample costs a layer in a step, for the memory estimate (core/memory.py).

    - ``kept``: arrays this layer creates in a training forward and holds until its backward (its output,
      masks, pre-activations); they stay referenced until the next forward, evaluation included;
    - ``scratch``: buffers kept between training steps (conv2d's im2col and padding);
    - ``work``: the most held at once on top of those while its training forward or backward runs;
    - ``eval_work``: the most held at once in an evaluation forward, besides its input and output.
    """

    kept: int = 0
    scratch: int = 0
    work: int = 0
    eval_work: int = 0


def prod(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


@dataclass
class Context:
    """What a built layer needs to compute: the array module, dtype and random generator."""

    xp: Any
    dtype: Any
    rng: Any = None


class Layer(ABC):
    """Base class. Subclasses set ``kind`` and ``options`` and implement the hooks below.

    - ``build(input_shape) -> output_shape`` checks the input shape and declares parameters;
    - ``forward(x, training) -> y`` keeps what backward needs;
    - ``backward(dy) -> dx`` writes the parameters' gradients and returns the input gradient
      (``None`` when ``needs_input_grad`` is false: the first layer's input is data).
    """

    kind: ClassVar[str] = ""
    options: ClassVar[dict[str, Option]] = {}

    # Set by build() and bind(); a layer computes only once both have run.
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    ctx: Context

    def __init__(self, where: str = "layer", **config):
        self.where = where
        self.cfg = check_options(where, self.options, config)
        self.needs_input_grad = True
        # A training forward that computes the evaluation function (dropout off, batchnorm on its running statistics,
        # nothing updated) and keeps what backward needs: gradients of the trained model as it predicts
        # (core/inspect.py sets it, e.g. for saliency and adversarial examples).
        self.frozen = False
        self._params: dict[str, Parameter] = {}
        self._buffers: dict[str, Any] = {}
        self.last_output = None

    # --- building -------------------------------------------------------------------------
    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(self.infer(self.input_shape))
        return self.output_shape

    def infer(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Declare parameters and return the output shape (per sample, no batch axis)."""
        return input_shape

    def bind(self, ctx: Context) -> None:
        """Attach the array module, dtype and RNG; buffers move to the backend here."""
        self.ctx = ctx
        for name, value in self._buffers.items():
            self._buffers[name] = ctx.xp.asarray(value, dtype=ctx.dtype)

    def add_parameter(self, name: str, shape, init, regularized: bool, transposed: bool = False) -> Parameter:
        p = Parameter(name, shape, init, regularized, transposed)
        self._params[name] = p
        return p

    def error(self, message: str) -> ModelError:
        return ModelError(f"{self.where}: {message}")

    # --- computing ------------------------------------------------------------------------
    @abstractmethod
    def forward(self, x, training: bool):
        """y = layer(x); keeps what backward needs when ``training``."""

    @abstractmethod
    def backward(self, dy):
        """dL/dx from dL/dy, writing the parameters' gradients on the way."""

    # --- introspection --------------------------------------------------------------------
    def parameters(self) -> list[tuple[str, Parameter]]:
        """(checkpoint name, parameter) pairs, names relative to this layer."""
        return list(self._params.items())

    def buffers(self) -> list[tuple[str, Any]]:
        """(checkpoint name, array) pairs of non-trainable state (batchnorm's running statistics)."""
        return list(self._buffers.items())

    def set_buffer(self, name: str, value) -> None:
        self._buffers[name] = value

    def children(self) -> list[Layer]:
        return []

    def activation_function(self) -> ActivationFn | None:
        """The activation this layer applies to its output, if any (the monitor's dead and saturated units)."""
        return None

    def weight_parameter(self) -> Parameter | None:
        """The parameter shown as this layer's weight (dense, conv2d, batchnorm's scale); None if it has none."""
        return self._params.get("weight")

    def flops(self) -> int:
        """Forward FLOPs per sample (2 per multiply-add), as the benchmark counts them."""
        return 0

    def param_count(self) -> int:
        return sum(p.size for _, p in self.parameters())

    def footprint(self) -> Footprint:
        """Values per sample for the memory estimate (built layers only; pure arithmetic on shapes).

        The default: a new output kept for backward, and the input and output gradients while it runs.
        """
        n_in, n_out = prod(self.input_shape), prod(self.output_shape)
        return Footprint(kept=n_out, work=n_in + n_out, eval_work=0)

    def config(self) -> dict:
        """The layer as written in a session: ``{kind: {options}}`` with defaults filled in."""
        return {self.kind: dict(self.cfg)}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.cfg.items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
