"""Batch normalization over the batch (dense inputs) or the batch and pixels (images)."""

from __future__ import annotations

import numpy as np

from ..spec import Option
from .base import Footprint, Layer, prod


class BatchNorm(Layer):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature (N, F) or per channel (N, C, H, W).

    Training uses the batch's statistics and updates running ones, PyTorch-style:
    running = (1 - momentum) * running + momentum * batch (the variance unbiased), except on a batch of one
    value per feature, which leaves them unchanged (PyTorch raises there). Evaluation uses the running
    statistics. Shape: any -> same; weight (gamma) and bias (beta) have one value per feature.
    """

    kind = "batchnorm"
    options = {
        "momentum": Option("float", 0.1, min=0.0, max=1.0, help="weight of the new batch in running stats"),
        "eps": Option("float", 1e-5, min=0.0, min_exclusive=True, help="added to the variance"),
    }

    def infer(self, input_shape):
        if len(input_shape) not in (1, 3):
            raise self.error(f"expected (features,) or (channels, height, width), got {input_shape}")
        f = input_shape[0]
        self.axes = (0,) if len(input_shape) == 1 else (0, 2, 3)
        self.bshape = (1, f) if len(input_shape) == 1 else (1, f, 1, 1)
        self.weight = self.add_parameter("weight", (f,), {"name": "constant", "value": 1.0}, regularized=False)
        self.bias = self.add_parameter("bias", (f,), "zeros", regularized=False)
        self.set_buffer("running_mean", np.zeros(f))
        self.set_buffer("running_var", np.ones(f))
        return input_shape

    def forward(self, x, training):
        xp = self.ctx.xp
        gamma = self.weight.data.reshape(self.bshape)
        beta = self.bias.data.reshape(self.bshape)
        self._frozen_scale = None
        if training and not self.frozen:
            mean = x.mean(axis=self.axes, keepdims=True)
            xc = x - mean
            var = (xc * xc).mean(axis=self.axes, keepdims=True)
            inv_std = 1.0 / xp.sqrt(var + self.cfg["eps"])
            xhat = xc * inv_std
            self._update_running(mean.reshape(-1), var.reshape(-1), x.size // x.shape[1])
            self._xhat, self._inv_std = xhat, inv_std
        else:
            mean = self._buffers["running_mean"].reshape(self.bshape)
            var = self._buffers["running_var"].reshape(self.bshape)
            inv_std = 1.0 / xp.sqrt(var + self.cfg["eps"])
            xhat = (x - mean) * inv_std
            if training:  # frozen: an affine map of x, whose backward is a scaling
                self._xhat, self._frozen_scale = xhat, gamma * inv_std
        return xhat * gamma + beta

    def _update_running(self, mean, var, count):
        if count == 1:
            # One value per feature carries no variance: PyTorch refuses such a batch; here the running statistics
            # are left as they are (an unbiased update would be 0/0, the biased one shrinks the variance to 0).
            # The trainer warns when a run's last batch has one sample (training.drop_last avoids it).
            return
        m = self.cfg["momentum"]
        unbiased = var * (count / max(count - 1, 1))
        rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
        rm *= 1.0 - m
        rm += m * mean
        rv *= 1.0 - m
        rv += m * unbiased

    def backward(self, dy):
        xp = self.ctx.xp
        xhat = self._xhat
        xp.sum(dy * xhat, axis=self.axes, out=self.weight.grad)
        xp.sum(dy, axis=self.axes, out=self.bias.grad)
        if not self.needs_input_grad:
            return None
        if self._frozen_scale is not None:  # the running statistics are constants
            return dy * self._frozen_scale
        count = dy.size // dy.shape[1]
        dxhat = dy * self.weight.data.reshape(self.bshape)
        s1 = dxhat.sum(axis=self.axes, keepdims=True)
        s2 = (dxhat * xhat).sum(axis=self.axes, keepdims=True)
        return (dxhat * count - s1 - xhat * s2) * (self._inv_std / count)

    def flops(self):
        n = 1
        for s in self.output_shape:
            n *= s
        return 4 * n

    def footprint(self):
        n = prod(self.input_shape)
        # kept: x-hat and the output; forward: x - mean and its square; backward: dx-hat and its products
        return Footprint(kept=2 * n, work=4 * n, eval_work=2 * n)
