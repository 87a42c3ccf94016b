"""2-D convolution (cross-correlation, as in PyTorch) by im2col and matrix products."""

from __future__ import annotations

from ..activations import ACTIVATION_NAMES, get_activation
from ..spec import Option
from .base import Layer


def pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def same_padding(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's 'same': output ceil(size / s), the extra pixel of an odd total padding at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def output_size(size: int, k: int, s: int, pad: tuple[int, int]) -> int:
    """floor((size + pad_before + pad_after - k) / s) + 1, the course's formula."""
    return (size + pad[0] + pad[1] - k) // s + 1


def windows(xp, x, kh: int, kw: int, sh: int, sw: int, ho: int, wo: int):
    """A (N, C, kh, kw, ho, wo) strided view of the kernel windows of x (N, C, H, W): no copy."""
    n, c = x.shape[:2]
    s = x.strides
    shape = (n, c, kh, kw, ho, wo)
    strides = (s[0], s[1], s[2], s[3], s[2] * sh, s[3] * sw)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


class Conv2D(Layer):
    """y[n, f] = g(b[f] + sum_c W[f, c] (*) x[n, c]), with stride and zero padding.

    Shape: (N, C, H, W) -> (N, filters, H', W'), H' = floor((H + 2p - k) / s) + 1;
    weight (filters, C, kh, kw) as in PyTorch, bias (filters,).
    """

    kind = "conv2d"
    options = {
        "filters": Option("int", min=1, help="number of output channels"),
        "kernel": Option("int_or_pair", 3, help="kernel size k or [kh, kw]"),
        "stride": Option("int_or_pair", 1, help="stride s or [sh, sw]"),
        "padding": Option("padding", "valid", help="valid, same or an integer"),
        "activation": Option("choice", "identity", choices=ACTIVATION_NAMES, help="applied to the output"),
        "bias": Option("bool", True, help="add a learned bias per filter"),
        "init": Option("any", None, help="weight initializer (default: the model's)"),
        "bias_init": Option("any", "zeros", help="bias initializer"),
    }

    def infer(self, input_shape):
        if len(input_shape) != 3:
            raise self.error(f"expected an image input (channels, height, width), got {input_shape}")
        c, h, w = input_shape
        self.k = pair(self.cfg["kernel"])
        self.s = pair(self.cfg["stride"])
        pad = self.cfg["padding"]
        if pad == "same":
            self.pad = (same_padding(h, self.k[0], self.s[0]), same_padding(w, self.k[1], self.s[1]))
        else:
            p = 0 if pad == "valid" else pad
            self.pad = ((p, p), (p, p))
        ho = output_size(h, self.k[0], self.s[0], self.pad[0])
        wo = output_size(w, self.k[1], self.s[1], self.pad[1])
        if ho < 1 or wo < 1:
            raise self.error(
                f"kernel {self.k[0]}x{self.k[1]} with stride {self.s[0]}x{self.s[1]} and padding {pad} "
                f"does not fit the input {input_shape}"
            )
        self.act = get_activation(self.cfg["activation"], f"{self.where}.activation")
        f = self.cfg["filters"]
        self.weight = self.add_parameter("weight", (f, c, *self.k), self.cfg["init"], regularized=True)
        self.bias = self.add_parameter("bias", (f,), self.cfg["bias_init"], False) if self.cfg["bias"] else None
        return (f, ho, wo)

    def _padded(self, x):
        (pt, pb), (pl, pr) = self.pad
        if pt == pb == pl == pr == 0:
            return x
        xp = self.ctx.xp
        n, c, h, w = x.shape
        out = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=x.dtype)
        out[:, :, pt : pt + h, pl : pl + w] = x
        return out

    def forward(self, x, training):
        xp = self.ctx.xp
        n = x.shape[0]
        f, ho, wo = self.output_shape
        win = windows(xp, self._padded(x), *self.k, *self.s, ho, wo)
        cols = win.reshape(n, -1, ho * wo)  # (N, C*kh*kw, H'*W'): the one copy of im2col
        z = xp.matmul(self.weight.data.reshape(f, -1), cols)
        if self.bias is not None:
            z += self.bias.data[:, None]
        z = z.reshape(n, f, ho, wo)
        y = self.act.forward(z)
        if training:
            self._cols, self._z, self._y = cols, (z if self.act.needs_input else None), y
        return y

    def backward(self, dy):
        xp = self.ctx.xp
        dz = self.act.backward(dy, self._z, self._y)
        n, f, ho, wo = dz.shape
        dz = xp.ascontiguousarray(dz).reshape(n, f, ho * wo)
        # dW = sum_n dz[n] @ cols[n]^T as one GEMM over the (C*kh*kw) x (N*H'*W') contraction.
        self.weight.grad[...] = xp.tensordot(dz, self._cols, axes=([0, 2], [0, 2])).reshape(self.weight.shape)
        if self.bias is not None:
            xp.sum(dz, axis=(0, 2), out=self.bias.grad)
        if not self.needs_input_grad:
            return None
        dcols = xp.matmul(self.weight.data.reshape(f, -1).T, dz)  # (N, C*kh*kw, H'*W')
        return self._col2im(dcols)

    def _col2im(self, dcols):
        """Scatter-add column gradients back onto the (padded) input: one strided add per kernel offset."""
        xp = self.ctx.xp
        c, h, w = self.input_shape
        n = dcols.shape[0]
        (pt, pb), (pl, pr) = self.pad
        kh, kw = self.k
        sh, sw = self.s
        _, ho, wo = self.output_shape
        dxp = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=dcols.dtype)
        d6 = dcols.reshape(n, c, kh, kw, ho, wo)
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] += d6[:, :, i, j]
        return dxp[:, :, pt : pt + h, pl : pl + w]

    def flops(self):
        _f, ho, wo = self.output_shape
        return 2 * self.weight.size * ho * wo
