"""2-D convolution (cross-correlation, as in PyTorch) by im2col and matrix products, channels-last inside.

Why channels-last: the array a layer returns has PyTorch's logical shape (N, C, H, W), but its memory may be
in any order; this layer writes (N, H, W, C) memory and returns a transposed view. Then im2col is one matrix
product over all N*H'*W' output pixels (no per-image batching), each kernel window's pixels are contiguous
runs of C values, the GEMM's output is already the next layer's input, and pooling reads contiguous channels.
Flatten still sees the logical (C, H, W) order, so checkpoints and weights keep PyTorch's layout.
"""

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
    """A (N, ho, wo, kh, kw, C) strided view of the kernel windows of x (N, H, W, C): no copy.

    Rows of the im2col matrix are output pixels; within a row, (kw, C) is one contiguous run of x.
    """
    n, _, _, c = x.shape
    s = x.strides
    shape = (n, ho, wo, kh, kw, c)
    strides = (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3])
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def covered(size: int, out: int, k: int, s: int, pad: int) -> list[tuple[slice, slice]]:
    """Per kernel offset i along one axis: (input slice, output slice) of the pixels that offset touches.

    Output pixel o reads input o*s + i - pad; only the part inside the input is kept, so col2im needs no
    padded scratch array.
    """
    spans = []
    for i in range(k):
        lo = max(0, -(-(pad - i) // s))  # first o with o*s + i - pad >= 0
        hi = min(out, (size - 1 + pad - i) // s + 1)  # one past the last o inside the input
        if hi <= lo:
            spans.append((slice(0, 0), slice(0, 0)))
            continue
        start = lo * s + i - pad
        spans.append((slice(start, start + (hi - lo - 1) * s + 1, s), slice(lo, hi)))
    return spans


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
        self.spans = (covered(h, ho, self.k[0], self.s[0], self.pad[0][0]),
                      covered(w, wo, self.k[1], self.s[1], self.pad[1][0]))
        return (f, ho, wo)

    def bind(self, ctx):
        super().bind(ctx)
        self._scratch = {}

    def _buffer(self, key, shape, fill=None):
        """A scratch array kept between steps (shapes repeat): no allocation, no page faults.

        Only for arrays private to this layer; what forward or backward returns is always fresh.
        """
        buf = self._scratch.get(key)
        if buf is None or buf.shape != shape or buf.dtype != self.ctx.dtype:
            buf = self.ctx.xp.empty(shape, dtype=self.ctx.dtype)
            if fill is not None:
                buf.fill(fill)
            self._scratch[key] = buf
        return buf

    # --- forward ------------------------------------------------------------------------------
    def _im2col(self, x, training):
        """The (N*H'*W', kh*kw*C [+1]) matrix of kernel windows; a last column of ones carries the bias
        through the matrix product, so neither forward nor backward needs a separate pass for it."""
        n = x.shape[0]
        c, h, w = self.input_shape
        _, ho, wo = self.output_shape
        (pt, pb), (pl, pr) = self.pad
        xh = x.transpose(0, 2, 3, 1)  # NHWC view; free when x came from a channels-last layer
        if pt or pb or pl or pr:
            padded = self._buffer(("pad", training), (n, h + pt + pb, w + pl + pr, c), fill=0.0)
            padded[:, pt : pt + h, pl : pl + w, :] = xh  # the border stays zero between steps
            xh = padded
        k = self.k[0] * self.k[1] * c
        nb = 1 if self.bias is not None else 0
        cols = self._buffer(("cols", training), (n * ho * wo, k + nb), fill=1.0)
        view = cols[:, :k].reshape(n, ho, wo, self.k[0], self.k[1], c)
        self.ctx.xp.copyto(view, windows(self.ctx.xp, xh, *self.k, *self.s, ho, wo))
        return cols

    def _weight_matrix(self):
        """Weights as a (kh*kw*C [+1], F) matrix matching the columns of im2col, the bias as its last row."""
        f, c, kh, kw = self.weight.shape
        k = kh * kw * c
        wm = self._buffer("wm", (k + (1 if self.bias is not None else 0), f))
        wm[:k].reshape(kh, kw, c, f)[...] = self.weight.data.transpose(2, 3, 1, 0)
        if self.bias is not None:
            wm[k] = self.bias.data
        return wm

    def forward(self, x, training):
        xp = self.ctx.xp
        n = x.shape[0]
        f, ho, wo = self.output_shape
        cols = self._im2col(x, training)
        z = xp.matmul(cols, self._weight_matrix())  # (N*H'*W', F): channels-last output
        if self.act.name == "relu":
            xp.maximum(z, 0.0, out=z)  # in place: one pass, no second array
            y = z
        elif self.act.name == "identity":
            y = z
        else:
            y = self.act.forward(z)
        y = y.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)
        if training:
            self._cols = cols
            self._z = z.reshape(n, ho, wo, f).transpose(0, 3, 1, 2) if self.act.needs_input else None
            self._y = y
        return y

    # --- backward -----------------------------------------------------------------------------
    def backward(self, dy):
        xp = self.ctx.xp
        dz = self.act.backward(dy, self._z, self._y)
        n, f, ho, wo = dz.shape
        dz = xp.ascontiguousarray(dz.transpose(0, 2, 3, 1)).reshape(n * ho * wo, f)
        # dW (and the bias gradient, from the column of ones) as one GEMM over all output pixels.
        dwm = xp.matmul(self._cols.T, dz)
        _, c, kh, kw = self.weight.shape
        k = kh * kw * c
        self.weight.grad[...] = dwm[:k].reshape(kh, kw, c, f).transpose(3, 2, 0, 1)
        if self.bias is not None:
            self.bias.grad[...] = dwm[k]
        if not self.needs_input_grad:
            return None
        wm = self._weight_matrix()[:k]
        dcols = xp.matmul(dz, wm.T, out=self._buffer("dcols", (n * ho * wo, k)))
        return self._col2im(dcols.reshape(n, ho, wo, kh, kw, c))

    def _col2im(self, d6):
        """Add each kernel offset's column gradients onto the input pixels it read (the adjoint of im2col).

        With stride 1 one offset reads every input pixel: it is assigned instead of added, which spares
        zero-filling the result.
        """
        xp = self.ctx.xp
        n = d6.shape[0]
        c, h, w = self.input_shape
        kh, kw = self.k
        dx = xp.empty((n, h, w, c), dtype=d6.dtype)
        full = [(i, j) for i in range(kh) for j in range(kw) if self._covers_all(i, j)]
        if full:
            i0, j0 = full[0]
            dx[...] = d6[:, self.spans[0][i0][1], self.spans[1][j0][1], i0, j0]
        else:
            dx.fill(0.0)
        for i in range(kh):
            (hin, hout) = self.spans[0][i]
            for j in range(kw):
                if full and (i, j) == full[0]:
                    continue
                (win, wout) = self.spans[1][j]
                dx[:, hin, win] += d6[:, hout, wout, i, j]
        return dx.transpose(0, 3, 1, 2)

    def _covers_all(self, i: int, j: int) -> bool:
        c, h, w = self.input_shape
        hin, _ = self.spans[0][i]
        win, _ = self.spans[1][j]
        return (hin.step == 1 and hin.start == 0 and hin.stop == h) and (
            win.step == 1 and win.start == 0 and win.stop == w
        )

    def flops(self):
        _f, ho, wo = self.output_shape
        return 2 * self.weight.size * ho * wo
