"""Max and average pooling over k x k windows, vectorized over strided sub-views."""

from __future__ import annotations

from ..spec import Option
from .base import Layer
from .conv2d import pair


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
        return (c, ho, wo)

    def _views(self, a, ho, wo):
        """The kh*kw strided sub-views a[:, :, i::s, j::s], each (N, C, H', W'), in window order."""
        sh, sw = self.s
        for i in range(self.k[0]):
            for j in range(self.k[1]):
                yield a[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw]

    @property
    def _overlapping(self) -> bool:
        return self.s[0] < self.k[0] or self.s[1] < self.k[1]

    @property
    def _tiles(self) -> bool:
        """Windows cover every input pixel exactly once (no gaps, no ragged edge)."""
        c, h, w = self.input_shape
        _, ho, wo = self.output_shape
        return self.s == self.k and ho * self.k[0] == h and wo * self.k[1] == w

    def flops(self):
        c, ho, wo = self.output_shape
        return c * ho * wo * self.k[0] * self.k[1]


class MaxPool2D(_Pool2D):
    """y = max over each window; the gradient goes to the window's first maximum, as in PyTorch.

    Shape: (N, C, H, W) -> (N, C, floor((H - k) / s) + 1, floor((W - k) / s) + 1).
    """

    kind = "maxpool2d"

    def forward(self, x, training):
        xp = self.ctx.xp
        _, ho, wo = self.output_shape
        views = self._views(x, ho, wo)
        first = next(views)
        y = xp.empty_like(first)  # order "K": keeps the input's memory layout (channels-last from conv2d)
        xp.maximum(first, next(views), out=y) if self.k[0] * self.k[1] > 1 else xp.copyto(y, first)
        for v in views:
            xp.maximum(y, v, out=y)
        if training:
            self._x, self._y = x, y
        return y

    def backward(self, dy):
        xp = self.ctx.xp
        _, ho, wo = self.output_shape
        x, y = self._x, self._y
        dx = xp.empty_like(x)
        if self._overlapping or not self._tiles:
            dx.fill(0.0)
        # Walk the windows in order; the first position equal to the maximum takes the gradient.
        # ``pending`` marks the windows whose maximum has not been met yet.
        pending = None
        last = self.k[0] * self.k[1] - 1
        for q, (xv, dv) in enumerate(zip(self._views(x, ho, wo), self._views(dx, ho, wo), strict=True)):
            hit = xp.equal(xv, y)
            if pending is None:
                pending = xp.logical_not(hit) if q < last else None
            else:
                hit &= pending
                if q < last:
                    xp.logical_xor(pending, hit, out=pending)  # hit is inside pending: this clears it
            if self._overlapping:
                dv += dy * hit
            else:
                xp.multiply(dy, hit, out=dv)
        return dx


class AvgPool2D(_Pool2D):
    """y = mean over each window; the gradient is shared equally by the window.

    Shape: (N, C, H, W) -> (N, C, floor((H - k) / s) + 1, floor((W - k) / s) + 1).
    """

    kind = "avgpool2d"

    def forward(self, x, training):
        _, ho, wo = self.output_shape
        views = self._views(x, ho, wo)
        y = next(views).copy()
        for v in views:
            y += v
        y *= 1.0 / (self.k[0] * self.k[1])
        if training:
            self._xshape = x.shape
        return y

    def backward(self, dy):
        xp = self.ctx.xp
        _, ho, wo = self.output_shape
        dx = xp.zeros(self._xshape, dtype=dy.dtype)
        share = dy * (1.0 / (self.k[0] * self.k[1]))
        for dv in self._views(dx, ho, wo):
            dv += share
        return dx
