"""Max and average pooling over k x k windows, vectorized over strided sub-views.

Outputs and gradients keep the memory order of the input (channels-last after conv2d): every pass then
reads and writes contiguous runs of channels instead of mixing two memory orders.

For the same maths written plainly, formula by formula, read dl_lab.core.reference (maxpool2d_* and
avgpool2d_*): the tests use it as the oracle these fast paths must match.
"""

from __future__ import annotations

from ..spec import Option
from .base import Footprint, Layer, prod
from .conv2d import pair

# Below this many channels, channels-last runs are short enough that widening y first pays (see backward).
FEW_CHANNELS = 16


def _like(xp, ref, a):
    """``a`` copied into ``ref``'s memory layout."""
    out = xp.empty_like(ref)
    out[...] = a
    return out


class _Pool2D(Layer):
    options = {
        "size": Option("int_or_pair", 2, help="window size k or [kh, kw]"),
        "stride": Option("int_or_pair", None, help="stride (default: the window size)"),
    }

    def infer(self, input_shape):
        if len(input_shape) != 3:
            raise self.error(f"expected an image input (channels, height, width), got {input_shape}")
        c, h, w = input_shape
        self.k = pair(self.cfg["size"])
        self.s = pair(self.cfg["stride"] if self.cfg["stride"] is not None else self.cfg["size"])
        ho = (h - self.k[0]) // self.s[0] + 1
        wo = (w - self.k[1]) // self.s[1] + 1
        if ho < 1 or wo < 1:
            raise self.error(f"window {self.k[0]}x{self.k[1]} does not fit the input {input_shape}")
        # Windows side by side (stride = size): the input is a (ho, kh, wo, kw) block view of itself,
        # and a backward pass is one broadcast product instead of k*k strided ones.
        self.blocks = self.s == self.k
        # ...and when they also cover every pixel, the gradient needs no zero-filling first.
        self.tiles = self.blocks and ho * self.k[0] == h and wo * self.k[1] == w
        return (c, ho, wo)

    def _views(self, a, ho, wo):
        """The kh*kw strided sub-views a[:, :, i::s, j::s], each (N, C, H', W'), in window order."""
        sh, sw = self.s
        for i in range(self.k[0]):
            for j in range(self.k[1]):
                yield a[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw]

    def _blocks(self, a):
        """a (N, C, H, W) as a (N, C, H', kh, W', kw) view: window (h', w') is [:, :, h', :, w', :]."""
        n, c = a.shape[:2]
        (kh, kw), (_, ho, wo) = self.k, self.output_shape
        s = a.strides
        return self.ctx.xp.lib.stride_tricks.as_strided(
            a, (n, c, ho, kh, wo, kw), (s[0], s[1], s[2] * kh, s[2], s[3] * kw, s[3])
        )

    def _grad_buffer(self, shape_like):
        """dx laid out like the input; zeroed only where some pixels belong to no window."""
        dx = self.ctx.xp.empty_like(shape_like)
        if not self.tiles:
            dx.fill(0.0)
        return dx

    def flops(self):
        c, ho, wo = self.output_shape
        return c * ho * wo * self.k[0] * self.k[1]

    def footprint(self):
        n_in, n_out = prod(self.input_shape), prod(self.output_shape)
        # backward: the window masks, widened copies of y and dy (few channels), dy masked, dx
        return Footprint(kept=n_out, work=2 * n_in + 2 * n_out)


class MaxPool2D(_Pool2D):
    """y = max over each window; the gradient goes to the window's first maximum, as in PyTorch.

    Shape: (N, C, H, W) -> (N, C, floor((H - k) / s) + 1, floor((W - k) / s) + 1).
    """

    kind = "maxpool2d"

    def bind(self, ctx):
        super().bind(ctx)
        # Set by Sequential, for one forward, when the previous layer deferred its ReLU to this one:
        # relu(max(z)) = max(relu(z)), and the ReLU's gradient mask is (y > 0) on the pooled output.
        self.apply_relu = False
        self._relu = False

    def forward(self, x, training):
        xp = self.ctx.xp
        _, ho, wo = self.output_shape
        views = list(self._views(x, ho, wo))
        y = xp.empty_like(views[0])  # order "K": the input's memory layout
        if len(views) == 1:
            y[...] = views[0]
        else:
            xp.maximum(views[0], views[1], out=y)
        for v in views[2:]:
            xp.maximum(y, v, out=y)
        if self.apply_relu:
            xp.maximum(y, 0.0, out=y)
        if training:
            self._x, self._y, self._relu = x, y, self.apply_relu
        return y

    def backward(self, dy):
        xp = self.ctx.xp
        x, y = self._x, self._y
        if dy.strides != y.strides:
            # e.g. from flatten, (C, H, W)-ordered while x and y are channels-last: one small transposing
            # copy beats mixing memory orders in every pass below.
            dy = _like(xp, y, dy)
        # Every window holds its maximum at least once, so as many hits as windows mean no ties, and no
        # tie-breaking pass. With the ReLU moved here, only windows with y > 0 pass a gradient; a NaN
        # window holds no hit and counts for none.
        live = y > 0 if self._relu else y == y
        if self._relu:
            dy = dy * live
        windows = int(xp.count_nonzero(live))
        dx = self._grad_buffer(x)
        if self.blocks:
            x6 = self._blocks(x)
            ref, grad = y[:, :, :, None, :, None], dy[:, :, :, None, :, None]
            if x.shape[1] < FEW_CHANNELS and x.strides[1] < x.strides[3]:
                # Few channels, channels-last: y and dy repeated along the window's columns first, so
                # that the two passes below run along whole image rows instead of runs of C values.
                ref, grad = (_like(xp, x6[:, :, :, 0], a[:, :, :, :, None])[:, :, :, None] for a in (y, dy))
            hits = xp.equal(x6, ref)
            ties = int(xp.count_nonzero(hits)) > windows
            if ties and self._relu:
                # windows whose maximum is 0 (a flat background under a zero bias) are dead: no gradient, and their
                # ties need no breaking
                hits &= live[:, :, :, None, :, None]
                ties = int(xp.count_nonzero(hits)) > windows
            if ties:
                self._first_only([hits[:, :, :, i, :, j] for i in range(self.k[0]) for j in range(self.k[1])])
            xp.multiply(hits, grad, out=self._blocks(dx))
            return dx
        _, ho, wo = self.output_shape
        hits = [xp.equal(xv, y) for xv in self._views(x, ho, wo)]
        if sum(int(xp.count_nonzero(h)) for h in hits) > windows:
            self._first_only(hits)
        for hit, dv in zip(hits, self._views(dx, ho, wo), strict=True):
            dv += dy * hit  # windows overlap: several may send gradient to one pixel
        return dx

    def _first_only(self, hits):
        """Keep, in each window, only the first position (in window order) equal to the maximum.

        ``hits`` are the k*k boolean masks in window order, edited in place. Ties do occur (all-zero
        windows after a ReLU, flat image backgrounds); PyTorch then sends the gradient to the first one.
        """
        xp = self.ctx.xp
        pending = xp.logical_not(hits[0])  # windows whose maximum has not been met yet
        for q, hit in enumerate(hits[1:], 2):
            hit &= pending
            if q < len(hits):
                xp.logical_xor(pending, hit, out=pending)  # hit lies inside pending: this clears it


class AvgPool2D(_Pool2D):
    """y = mean over each window; the gradient is shared equally by the window.

    Shape: (N, C, H, W) -> (N, C, floor((H - k) / s) + 1, floor((W - k) / s) + 1).
    """

    kind = "avgpool2d"

    def forward(self, x, training):
        xp = self.ctx.xp
        _, ho, wo = self.output_shape
        views = list(self._views(x, ho, wo))
        y = xp.empty_like(views[0])
        y[...] = views[0]
        for v in views[1:]:
            y += v
        y *= 1.0 / (self.k[0] * self.k[1])
        if training:
            self._x = x
        return y

    def backward(self, dy):
        share = dy * (1.0 / (self.k[0] * self.k[1]))
        dx = self._grad_buffer(self._x)
        if self.blocks:
            self._blocks(dx)[...] = share[:, :, :, None, :, None]
            return dx
        _, ho, wo = self.output_shape
        for dv in self._views(dx, ho, wo):
            dv += share
        return dx
