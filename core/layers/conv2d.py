"""2-D convolution (cross-correlation, as in PyTorch) by im2col and matrix products, channels-last inside.

Why channels-last: the array a layer returns has PyTorch's logical shape (N, C, H, W), but its memory may be
in any order; this layer writes (N, H, W, C) memory and returns a transposed view. Then each convolution is
one GEMM over all N*H'*W' output pixels, a kernel window is kh runs of kw*C contiguous values, the GEMM's
output needs no transposition, and pooling reads contiguous channels. Flatten still sees the logical
(C, H, W) order, so checkpoints and weights keep PyTorch's layout.

Memory traffic, not arithmetic, bounds these passes on a CPU: scratch arrays are kept between steps, the
bias rides in the GEMM as a column of ones, a ReLU works in place (or after the next max-pool, see
model.relu_pool_pairs), and the input gradient is a second convolution rather than a col2im scatter.

For the same maths written plainly, formula by formula, read dl_lab.core.reference (conv2d_forward and
conv2d_backward): the tests use it as the oracle these fast paths must match.
"""

from __future__ import annotations

from ..activations import ACTIVATION_NAMES, forward_in_place, get_activation
from ..spec import Option
from .base import Footprint, Layer


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
    """A (N, ho, wo, kh, kw, C) strided view of the kernel windows of x (N, H, W, C in memory): no copy.

    Copied into an (N*ho*wo, kh*kw*C) matrix, it is im2col; (kw, C) is one contiguous run of x.
    """
    n, _, _, c = x.shape
    s = x.strides
    shape = (n, ho, wo, kh, kw, c)
    strides = (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3])
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def covered(size: int, out: int, k: int, s: int, pad: int) -> list[tuple[slice, slice]]:
    """Per kernel offset i along one axis: (input slice, output slice) of the pixels that offset touches.

    Output pixel o reads input o*s + i - pad; only the part inside the input is kept, so col2im needs no
    padded array.
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


# Shortest contiguous run (kw*C values) for which im2col is built one row per output pixel.
ROWS_MIN_RUN = 16
# Weight matrices up to this many entries are multiplied a few images at a time (see matmul_per_image).
SMALL_WEIGHTS = 4096
# A stride-1 convolution with at least this many filters, and twice its channels, takes its input gradient by
# col2im rather than by correlation (see Conv2D.infer).
COL2IM_MIN_FILTERS = 64
# OpenBLAS runs a GEMM of fewer multiply-adds than this on the calling thread alone.
ONE_THREAD_MACS = 500_000


def image_groups(n: int, rows: int, k: int, f: int) -> int:
    """How many GEMMs to split N images into: as few as keep each under ONE_THREAD_MACS (at least one
    image each, and a whole number of images)."""
    per_group = max(1, min(n, ONE_THREAD_MACS // max(1, rows * k * f)))  # never more images than there are
    while n % per_group:
        per_group -= 1
    return n // per_group


def matmul_per_image(xp, a, b, n: int, out=None):
    """a (N*P, K) @ b (K, F) -> (N*P, F), as one GEMM, or one GEMM per few images when b is small.

    A product with a small weight matrix (few channels and filters) is thin and memory-bound; OpenBLAS
    splits such a product poorly between threads (slow packing of a transposed operand, and a stall
    whenever the other core is busy). Per image (or per few) it is a batched matmul whose GEMMs stay
    in cache and run on one thread each.
    """
    m, k = a.shape
    f = b.shape[1]
    if k * f > SMALL_WEIGHTS or n == 1:
        return xp.matmul(a, b, out=out)
    g = image_groups(n, m // n, k, f)
    out = xp.empty((m, f), dtype=a.dtype) if out is None else out
    xp.matmul(a.reshape(g, m // g, k), b, out=out.reshape(g, m // g, f))
    return out


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
        self.spans = (
            covered(h, ho, self.k[0], self.s[0], self.pad[0][0]),
            covered(w, wo, self.k[1], self.s[1], self.pad[1][0]),
        )
        # Few input channels make channels-last windows short runs: im2col is then built transposed.
        self.rows = c * self.k[1] >= ROWS_MIN_RUN
        self._korder = (2, 3, 1) if self.rows else (1, 2, 3)  # weight axes in im2col's column order
        self._kshape = tuple((f, c, *self.k)[a] for a in self._korder)
        # Stride 1 with at most k-1 padding: the input gradient is itself a convolution of dz, whose im2col has
        # kh*kw*F values a pixel, against kh*kw*C for the column gradients that col2im adds up. Many more filters
        # than channels make the correlation's im2col the larger pass: with F >= 2C and F >= 64, col2im took
        # 6-27% less time (W4's second convolution, C=32 F=64: 18.5 -> 15.4 ms a backward on one core; measured
        # on C from 3 to 64, F from 16 to 128); with fewer filters the correlation stays ahead (C=8 F=16: 0.72
        # against 1.07 ms).
        self.correlate = (
            self.s == (1, 1)
            and all(0 <= p < k for pp, k in zip(self.pad, self.k, strict=True) for p in pp)
            and not (f >= 2 * c and f >= COL2IM_MIN_FILTERS)
        )
        return (f, ho, wo)

    def bind(self, ctx):
        super().bind(ctx)
        self._scratch = {}
        # Set by Sequential, for one forward, when a max-pool follows: the ReLU is then applied after
        # the pooling (max and ReLU commute), on a quarter of the values, and its gradient mask too.
        self.defer_relu = False
        self._deferred = False

    def _buffer(self, key, shape, fill=None, keep: bool = True):
        """A scratch array private to this layer, kept between training steps (shapes repeat): no
        allocation, no page faults, and a padding border written once. Evaluation, whose batches may be
        large and rare, gets a fresh one (``keep=False``). What forward or backward returns is always fresh.
        """
        buf = self._scratch.get(key) if keep else None
        if buf is None or buf.shape != shape or buf.dtype != self.ctx.dtype:
            buf = self.ctx.xp.empty(shape, dtype=self.ctx.dtype)
            if fill is not None:
                buf.fill(fill)
            if keep:
                self._scratch[key] = buf
        return buf

    # --- forward ------------------------------------------------------------------------------
    def _padded(self, x, channels_last: bool, keep: bool):
        """x (N, C, H, W), zero-padded into a scratch array laid out (N, H, W, C) or (N, C, H, W) in memory
        (without padding, just a view of x in that axis order)."""
        src = x.transpose(0, 2, 3, 1) if channels_last else x
        (pt, pb), (pl, pr) = self.pad
        if pt == pb == pl == pr == 0:
            return src
        n, h, w = src.shape[0], self.input_shape[1], self.input_shape[2]
        c = self.input_shape[0]
        if channels_last:
            padded = self._buffer("pad", (n, h + pt + pb, w + pl + pr, c), 0.0, keep)
            padded[:, pt : pt + h, pl : pl + w, :] = src  # the border stays zero between steps
        else:
            padded = self._buffer("pad", (n, c, h + pt + pb, w + pl + pr), 0.0, keep)
            padded[:, :, pt : pt + h, pl : pl + w] = src
        return padded

    def _im2col(self, x, training):
        """The matrix of kernel windows, one row per output pixel (or, for few input channels, its
        transpose); an extra column (row) of ones carries the bias through the matrix product.

        Rows: (N*H'*W', kh*kw*C), read from channels-last memory in runs of kw*C values.
        Transposed, for small C where those runs would be a few values long: (C*kh*kw, N*H'*W'),
        read in runs along the image width.
        """
        xp = self.ctx.xp
        n = x.shape[0]
        c = self.input_shape[0]
        _, ho, wo = self.output_shape
        (kh, kw), (sh, sw) = self.k, self.s
        k = kh * kw * c
        nb = 1 if self.bias is not None else 0
        xpad = self._padded(x, self.rows, keep=training)
        if self.rows:
            cols = self._buffer("cols", (n * ho * wo, k + nb), 1.0, keep=training)
            src = windows(xp, xpad, kh, kw, sh, sw, ho, wo)
            xp.copyto(cols[:, :k].reshape(n, ho, wo, kh, kw, c), src)
        else:
            cols = self._buffer("cols", (k + nb, n * ho * wo), 1.0, keep=training)
            s = xpad.strides  # (N, C, H, W) memory order
            src = xp.lib.stride_tricks.as_strided(
                xpad, (c, kh, kw, n, ho, wo), (s[1], s[2], s[3], s[0], s[2] * sh, s[3] * sw)
            )
            xp.copyto(cols[:k].reshape(c, kh, kw, n, ho, wo), src)
        return cols

    def _weight_matrix(self):
        """Weights as a (K [+1], F) matrix whose rows follow im2col's columns, the bias as its last row."""
        f = self.weight.shape[0]
        k = self.weight.size // f
        wm = self._buffer("wm", (k + (1 if self.bias is not None else 0), f))
        wm[:k].reshape((*self._kshape, f))[...] = self.weight.data.transpose(*self._korder, 0)
        if self.bias is not None:
            wm[k] = self.bias.data
        return wm

    def forward(self, x, training):
        xp = self.ctx.xp
        n = x.shape[0]
        f, ho, wo = self.output_shape
        cols = self._im2col(x, training)
        z = matmul_per_image(xp, cols if self.rows else cols.T, self._weight_matrix(), n)  # channels-last
        y = z if self.defer_relu else forward_in_place(self.act, z)
        y = y.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)
        if training:
            self._deferred = self.defer_relu
            self._cols = cols
            self._z = z.reshape(n, ho, wo, f).transpose(0, 3, 1, 2) if self.act.needs_input else None
            self._y = y
        return y

    # --- backward -----------------------------------------------------------------------------
    def backward(self, dy):
        xp = self.ctx.xp
        dz = dy if self._deferred else self.act.backward(dy, self._z, self._y)
        n, f, ho, wo = dz.shape
        dz = xp.ascontiguousarray(dz.transpose(0, 2, 3, 1)).reshape(n * ho * wo, f)
        dwm = self._weight_grad_matrix(dz, n)
        k = self.weight.size // f
        self.weight.grad.transpose(*self._korder, 0)[...] = dwm[:k].reshape((*self._kshape, f))
        if self.bias is not None:
            self.bias.grad[...] = dwm[k]
        if not self.needs_input_grad:
            return None
        if self.correlate:
            return self._input_grad_by_correlation(dz.reshape(n, ho, wo, f))
        wk = self.weight.data.transpose(0, 2, 3, 1).reshape(f, k)  # (F, kh*kw*C)
        dcols = matmul_per_image(xp, dz, wk, n, out=self._buffer("dcols", (n * ho * wo, k)))
        c = self.input_shape[0]
        return self._col2im(dcols.reshape(n, ho, wo, *self.k, c))

    def _weight_grad_matrix(self, dz, n):
        """dW (and the bias gradient, from the ones) = im2col^T dz, summed over all output pixels.

        A small dW (few filters and channels) is summed from one GEMM per few images, as in matmul_per_image.
        """
        xp = self.ctx.xp
        cols = self._cols.T if self.rows else self._cols  # (K [+1], N*H'*W')
        kb, m = cols.shape
        f = dz.shape[1]
        if kb * f > SMALL_WEIGHTS or n == 1:
            # im2col stored by rows: (dz^T im2col)^T, so that OpenBLAS reads both long operands along their rows
            # (25-30% less time than im2col^T dz for W4's second convolution, one thread)
            return xp.matmul(dz.T, self._cols).T if self.rows else xp.matmul(cols, dz)
        g = image_groups(n, m // n, kb, f)
        per_group = cols.reshape(kb, g, m // g).transpose(1, 0, 2)
        return xp.matmul(per_group, dz.reshape(g, m // g, f)).sum(axis=0)

    def _input_grad_by_correlation(self, dz):
        """Stride 1: dx is dz, zero-padded by k-1-p, correlated with the kernel flipped and transposed.

        It costs an im2col of dz and one GEMM, instead of a GEMM to column gradients (kh*kw times the
        input's size) and a scatter of kh*kw strided additions, which move much more memory.
        """
        xp = self.ctx.xp
        n, ho, wo, f = dz.shape
        c, h, w = self.input_shape
        (kh, kw), ((pt, _), (pl, _)) = self.k, self.pad
        top, left = kh - 1 - pt, kw - 1 - pl
        padded = self._buffer("dzpad", (n, h + kh - 1, w + kw - 1, f), fill=0.0)
        padded[:, top : top + ho, left : left + wo, :] = dz
        cols = self._buffer("dzcols", (n * h * w, kh * kw * f))
        xp.copyto(cols.reshape(n, h, w, kh, kw, f), windows(xp, padded, kh, kw, 1, 1, h, w))
        wf = self._buffer("wflip", (kh, kw, f, c))
        wf[...] = self.weight.data[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)
        dx = matmul_per_image(xp, cols, wf.reshape(kh * kw * f, c), n)
        return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2)

    def _col2im(self, d6):
        """Add each kernel offset's column gradients onto the input pixels it read (the adjoint of im2col);
        used for strided convolutions, whose input gradient is no plain convolution of dz."""
        xp = self.ctx.xp
        c, h, w = self.input_shape
        dx = xp.zeros((d6.shape[0], h, w, c), dtype=d6.dtype)
        for i, (hin, hout) in enumerate(self.spans[0]):
            for j, (win, wout) in enumerate(self.spans[1]):
                dx[:, hin, win] += d6[:, hout, wout, i, j]
        return dx.transpose(0, 3, 1, 2)

    def flops(self):
        _f, ho, wo = self.output_shape
        return 2 * self.weight.size * ho * wo

    def footprint(self):
        """im2col (and the padded input) are kept between steps, so are the input gradient's buffers."""
        c, h, w = self.input_shape
        f, ho, wo = self.output_shape
        (kh, kw), ((pt, pb), (pl, pr)) = self.k, self.pad
        out, k = f * ho * wo, kh * kw * c
        padded = c * (h + pt + pb) * (w + pl + pr) if pt or pb or pl or pr else 0
        cols = ho * wo * (k + (1 if self.bias is not None else 0))
        grads = 0
        if self.needs_input_grad:
            grads = f * (h + kh - 1) * (w + kw - 1) + h * w * kh * kw * f if self.correlate else ho * wo * k
        in_place = self.act.name in ("identity", "relu")
        kept = out * (2 if self.act.needs_input else 1)
        work = 2 * out + (c * h * w if self.needs_input_grad else 0)  # dz, its channels-last copy, dx
        eval_work = padded + cols + (0 if in_place else out)  # fresh im2col in evaluation
        return Footprint(kept=kept, scratch=padded + cols + grads, work=work, eval_work=eval_work)

    def activation_function(self):
        return self.act
