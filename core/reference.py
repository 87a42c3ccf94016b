"""Plain NumPy convolution and pooling, written like the course's formulas: the tests' oracle for the fast layers."""

# Shapes are PyTorch's: x (N, C, H, W), conv weight w (O, C, kh, kw), bias b (O,).
# Every function loops only over the kernel offsets (u, v). For one offset, x[n, c, i*s + u, j*s + v] over all
# output pixels (i, j) at once is the strided slice xpad[:, :, u : u + s*H' : s, v : v + s*W' : s], so there is
# no loop over samples or pixels. Output size along one axis, the course's formula:
#     out = floor((n + 2p - k) / s) + 1      (2p: the zeros added before and after)

from __future__ import annotations

import numpy as np


def pad_amounts(padding, size: int, k: int, s: int) -> tuple[int, int]:
    """Zeros (before, after) along one axis. padding: 'valid' (0), an int p (p on each side) or 'same'.

    'same' is TensorFlow's, as in the engine: output ceil(size / s); an odd total goes one pixel more after.
    """
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-size // s)  # ceil(size / s)
        total = max((out - 1) * s + k - size, 0)
        return total // 2, total - total // 2
    return padding, padding


def _pad(x, kh: int, kw: int, s: int, padding):
    """x with zeros around it on H and W, and the (top, left) amounts added."""
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pad_amounts(padding, h, kh, s), pad_amounts(padding, w, kw, s)
    xpad = np.zeros((n, c, top + h + bottom, left + w + right), dtype=x.dtype)
    xpad[:, :, top : top + h, left : left + w] = x  # x in the middle, zeros around
    return xpad, top, left


def _out(xpad, kh: int, kw: int, s: int) -> tuple[int, int]:
    """H', W' = floor((H + 2p - k) / s) + 1 (xpad already holds the 2p)."""
    return (xpad.shape[2] - kh) // s + 1, (xpad.shape[3] - kw) // s + 1


def _window(a, u: int, v: int, s: int, ho: int, wo: int):
    """The view a[:, :, i*s + u, j*s + v] over all output pixels (i, j): shape (N, C, H', W')."""
    return a[:, :, u : u + s * ho : s, v : v + s * wo : s]


# --- convolution (cross-correlation, as in PyTorch) ----------------------------------------------------------
def conv2d_forward(x, w, b, stride: int = 1, padding=0):
    """y[n,o,i,j] = b[o] + sum_{c,u,v} w[o,c,u,v] xpad[n,c,i*s+u,j*s+v]   (xpad: x with zero padding).

    b may be None (no bias). Returns y (N, O, H', W').
    """
    kh, kw = w.shape[2:]
    xpad, _, _ = _pad(x, kh, kw, stride, padding)
    ho, wo = _out(xpad, kh, kw, stride)
    y = np.zeros((x.shape[0], w.shape[0], ho, wo), dtype=np.result_type(x, w))
    for u in range(kh):
        for v in range(kw):
            # sum over c of w[o, c, u, v] * x[n, c, i*s+u, j*s+v]
            y += np.einsum("oc,nchw->nohw", w[:, :, u, v], _window(xpad, u, v, stride, ho, wo))
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv2d_backward(x, w, dy, stride: int = 1, padding=0):
    """Gradients of L from dy = dL/dy (N, O, H', W'):

    dw[o,c,u,v] = sum_{n,i,j} dy[n,o,i,j] xpad[n,c,i*s+u,j*s+v]
    db[o]       = sum_{n,i,j} dy[n,o,i,j]
    dxpad[n,c,i*s+u,j*s+v] += sum_o dy[n,o,i,j] w[o,c,u,v]   (for every u, v), then the padding is cut off.
    Returns (dx, dw, db).
    """
    kh, kw = w.shape[2:]
    xpad, top, left = _pad(x, kh, kw, stride, padding)
    ho, wo = dy.shape[2:]
    dxpad = np.zeros_like(xpad, dtype=np.result_type(xpad, dy))
    dw = np.zeros_like(w, dtype=np.result_type(w, dy))
    for u in range(kh):
        for v in range(kw):
            dw[:, :, u, v] = np.einsum("nohw,nchw->oc", dy, _window(xpad, u, v, stride, ho, wo))
            # windows overlap when s < k: each offset adds its share onto the pixels it read
            _window(dxpad, u, v, stride, ho, wo)[...] += np.einsum("nohw,oc->nchw", dy, w[:, :, u, v])
    db = dy.sum(axis=(0, 2, 3))
    dx = dxpad[:, :, top : top + x.shape[2], left : left + x.shape[3]]
    return dx, dw, db


# --- pooling (no padding; the stride defaults to the window size) -----------------------------------------
def _windows(x, size: int, stride: int):
    """All k*k offsets of each window stacked on a last axis, in window order (u, then v): (N, C, H', W', k*k)."""
    ho, wo = _out(x, size, size, stride)
    return np.stack([_window(x, u, v, stride, ho, wo) for u in range(size) for v in range(size)], axis=-1)


def maxpool2d_forward(x, size: int = 2, stride: int | None = None):
    """y[n,c,i,j] = max_{u,v} x[n,c,i*s+u,j*s+v]."""
    return _windows(x, size, stride or size).max(axis=-1)


def maxpool2d_backward(x, dy, size: int = 2, stride: int | None = None):
    """dx[n,c,i*s+u,j*s+v] += dy[n,c,i,j] for the (u, v) of the window's maximum, nothing for the others.

    Ties: only the first maximum in window order (u, then v) gets the gradient, as in PyTorch and the engine.
    (A NaN counts as the maximum here, as in PyTorch; the engine's layer gives a NaN window no gradient.)
    """
    s = stride or size
    first = _windows(x, size, s).argmax(axis=-1)  # argmax returns the first of equal maxima
    ho, wo = dy.shape[2:]
    dx = np.zeros_like(x, dtype=np.result_type(x, dy))
    for q in range(size * size):
        u, v = divmod(q, size)
        _window(dx, u, v, s, ho, wo)[...] += dy * (first == q)  # overlapping windows add up
    return dx


def avgpool2d_forward(x, size: int = 2, stride: int | None = None):
    """y[n,c,i,j] = (1 / k^2) sum_{u,v} x[n,c,i*s+u,j*s+v]."""
    return _windows(x, size, stride or size).mean(axis=-1)


def avgpool2d_backward(x, dy, size: int = 2, stride: int | None = None):
    """dx[n,c,i*s+u,j*s+v] += dy[n,c,i,j] / k^2 for every (u, v): each window shares its gradient equally."""
    s = stride or size
    ho, wo = dy.shape[2:]
    dx = np.zeros_like(x, dtype=np.result_type(x, dy))
    for u in range(size):
        for v in range(size):
            _window(dx, u, v, s, ho, wo)[...] += dy / (size * size)
    return dx
