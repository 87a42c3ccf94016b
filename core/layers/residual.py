"""A residual block: the input is added to what a stack of layers makes of it (ResNet's skip connection)."""

from __future__ import annotations

from ..spec import Option
from .base import Layer


class Residual(Layer):
    """y = x + block(x), where block is a list of layers whose output has the input's shape.

    Shape: any -> same. Checkpoint names nest: ``<i>.<j>.weight`` for the j-th layer of block i.
    """

    kind = "residual"
    options = {"layers": Option("list", help="the layers of the block, as in model:")}

    def infer(self, input_shape):
        from ..model import build_layers  # the block is built like a model; imported here to avoid a cycle

        if not self.cfg["layers"]:
            raise self.error("layers: expected at least one layer in the block")
        self.block, out = build_layers(self.cfg["layers"], input_shape, f"{self.where}.layers")
        if tuple(out) != tuple(input_shape):
            raise self.error(
                f"the block's output shape {tuple(out)} does not match its input shape {tuple(input_shape)}; "
                "a residual block must keep the shape"
            )
        return input_shape

    def children(self):
        return self.block

    def bind(self, ctx):
        super().bind(ctx)
        for layer in self.block:
            layer.bind(ctx)

    def parameters(self):
        return [(f"{j}.{name}", p) for j, layer in enumerate(self.block) for name, p in layer.parameters()]

    def buffers(self):
        return [(f"{j}.{name}", b) for j, layer in enumerate(self.block) for name, b in layer.buffers()]

    def set_buffer(self, name, value):
        j, rest = name.split(".", 1)
        self.block[int(j)].set_buffer(rest, value)

    def forward(self, x, training):
        h = x
        for layer in self.block:
            h = layer.forward(h, training)
        return x + h

    def backward(self, dy):
        d = dy
        for layer in reversed(self.block):
            d = layer.backward(d)
        return dy + d

    def flops(self):
        return sum(layer.flops() for layer in self.block)

    def config(self):
        return {self.kind: {"layers": [layer.config() for layer in self.block]}}
