"""Fully connected layer with an optional fused activation."""

from __future__ import annotations

from .. import blas
from ..activations import ACTIVATION_NAMES, forward_in_place, get_activation
from ..spec import Option
from .base import Footprint, Layer, prod


class Dense(Layer):
    """y = g(x W^T + b).

    Shape: (N, in) -> (N, units); weight (units, in) as in PyTorch, bias (units,).
    """

    kind = "dense"
    options = {
        "units": Option("int", min=1, help="number of output units"),
        "activation": Option("choice", "identity", choices=ACTIVATION_NAMES, help="applied to the output"),
        "bias": Option("bool", True, help="add a learned bias"),
        "init": Option("any", None, help="weight initializer (default: the model's)"),
        "bias_init": Option("any", "zeros", help="bias initializer"),
    }

    def infer(self, input_shape):
        if len(input_shape) != 1:
            raise self.error(f"expected a flat input (features,), got {input_shape}; add a flatten layer before it")
        units = self.cfg["units"]
        self.act = get_activation(self.cfg["activation"], f"{self.where}.activation")
        # stored transposed, (in, units): both GEMMs below then run on contiguous matrices (Parameter's docstring)
        self.weight = self.add_parameter(
            "weight", (units, input_shape[0]), self.cfg["init"], regularized=True, transposed=True
        )
        self.bias = self.add_parameter("bias", (units,), self.cfg["bias_init"], False) if self.cfg["bias"] else None
        return (units,)

    def forward(self, x, training):
        w = self.weight.data.T  # the (in, units) storage
        z = None
        if self.bias is not None and len(x) * self.weight.size >= blas.GEMM_BIAS_MIN:  # a Playground step: no call
            z = blas.gemm_bias(x, w, self.bias.data)  # the bias inside the GEMM
        if z is None:
            z = x @ w
            if self.bias is not None:
                z += self.bias.data
        y = forward_in_place(self.act, z)
        if training:
            self._x, self._z, self._y = x, (z if self.act.needs_input else None), y
        return y

    def backward(self, dy):
        dz = self.act.backward(dy, self._z, self._y)
        xp = self.ctx.xp
        xp.matmul(self._x.T, dz, out=self.weight.grad.T)  # dW^T = x^T dz, into the (in, units) storage
        if self.bias is not None:
            dz.sum(axis=0, out=self.bias.grad)  # the method skips NumPy's Python-level wrapper
        return dz @ self.weight.data if self.needs_input_grad else None

    def flops(self):
        return 2 * self.weight.size

    def footprint(self):
        n_in, units = self.input_shape[0], self.output_shape[0]
        in_place = self.act.name in ("identity", "relu")
        kept = units * (2 if self.act.needs_input else 1)  # y, and z too when backward reads it
        # forward: z before a not-in-place activation; backward: the activation's dz, dz's temporaries, dx
        dx = n_in if self.needs_input_grad else 0
        return Footprint(kept=kept, work=2 * units + dx, eval_work=0 if in_place else units)

    def activation_function(self):
        return self.act


class Activation(Layer):
    """y = g(x), element-wise (softmax over axis 1).

    Shape: any -> same. ``alpha`` is the negative slope of leaky_relu (0.01) or the scale of elu (1.0).
    """

    kind = "activation"
    options = {
        "name": Option("choice", choices=ACTIVATION_NAMES, help="the activation function"),
        "alpha": Option("float", None, min=0.0, help="leaky_relu slope / elu scale"),
    }

    def infer(self, input_shape):
        self.act = get_activation(self.cfg["name"], f"{self.where}.name")
        self.kw = {} if self.cfg["alpha"] is None else {"alpha": self.cfg["alpha"]}
        return input_shape

    def forward(self, x, training):
        y = self.act.forward(x, **self.kw)
        if training:
            self._x, self._y = x, y
        return y

    def backward(self, dy):
        return self.act.backward(dy, self._x, self._y, **self.kw)

    def footprint(self):
        n = prod(self.output_shape)
        return Footprint(kept=n, work=2 * n, eval_work=n)

    def activation_function(self):
        return self.act


class Flatten(Layer):
    """Row-major flattening of each sample, as PyTorch's nn.Flatten.

    Shape: (N, C, H, W) -> (N, C*H*W).
    """

    kind = "flatten"
    options = {}

    def infer(self, input_shape):
        n = 1
        for s in input_shape:
            n *= s
        return (n,)

    def forward(self, x, training):
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape((dy.shape[0], *self.input_shape)) if self.needs_input_grad else None

    def footprint(self):
        return Footprint()  # views only


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by 1/(1-p).

    In evaluation it is the identity, so the expected activation is the same in both modes.
    Shape: any -> same.
    """

    kind = "dropout"
    options = {"p": Option("float", 0.5, min=0.0, max=1.0, help="probability of dropping a unit")}

    def infer(self, input_shape):
        if self.cfg["p"] >= 1.0:
            raise self.error(f"p: expected a probability < 1, got {self.cfg['p']}")
        return input_shape

    def forward(self, x, training):
        p = self.cfg["p"]
        if not training or p == 0.0 or self.frozen:
            self._mask = None
            return x
        u = self.ctx.rng.random(x.shape, dtype=x.dtype)
        mask = (u >= p).astype(x.dtype)
        mask *= 1.0 / (1.0 - p)
        self._mask = mask
        return x * mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def footprint(self):
        n = prod(self.output_shape)
        if self.cfg["p"] == 0.0:
            return Footprint()
        return Footprint(kept=2 * n, work=n)  # the mask and the output; the uniform draw, then dy * mask
