"""A sequential model built from layer specs, with shape inference, flat parameter buffers and checkpoints."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .backend import Backend, get_backend, resolve_dtype
from .errors import CheckpointError, ConfigError, ModelError
from .initializers import initialize, parse_initializer
from .layers import LAYER_NAMES, LAYERS, Activation, Context, Conv2D, Dense, Layer, MaxPool2D
from .memory import Budget, Estimate
from .memory import check as check_memory
from .spec import unknown_name


def parse_layer_spec(spec, where: str) -> tuple[str, dict]:
    """``{dense: {units: 8}}``, ``{flatten: {}}``, ``{flatten: null}`` or ``"flatten"`` -> (kind, options)."""
    opts: Any
    if isinstance(spec, str):
        kind, opts = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        kind, opts = next(iter(spec.items()))
        opts = {} if opts is None else opts
    else:
        raise ConfigError(
            f"{where}: expected one layer as {{kind: {{options}}}}, e.g. {{dense: {{units: 8}}}}, got {spec!r}"
        )
    if kind not in LAYERS:
        raise unknown_name(where, "layer", kind, LAYER_NAMES)
    if not isinstance(opts, dict):
        raise ConfigError(f"{where}.{kind}: expected a mapping of options, got {opts!r}")
    return kind, opts


def build_layers(specs, input_shape, where: str = "model") -> tuple[list[Layer], tuple[int, ...]]:
    """Instantiate and build each layer in turn; a stack that does not fit fails naming the layer and shapes."""
    if not isinstance(specs, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of layers, got {specs!r}")
    layers, shape = [], tuple(input_shape)
    for i, spec in enumerate(specs):
        kind, opts = parse_layer_spec(spec, f"{where}[{i}]")
        layer = LAYERS[kind](f"{where}[{i}].{kind}", **opts)
        shape = layer.build(shape)
        layers.append(layer)
    return layers, shape


def relu_pool_pairs(layers) -> list[tuple[Conv2D, MaxPool2D]]:
    """(conv2d with a ReLU, the max-pool right after it): pairs whose ReLU can run after the pooling.

    max and ReLU commute, so the pool applies the ReLU (and its gradient mask) to its output, a quarter of
    the values for 2x2 windows, and the convolution skips two passes over its large output.
    """
    return [
        (a, b)
        for a, b in itertools.pairwise(layers)
        if isinstance(a, Conv2D) and a.act.name == "relu" and isinstance(b, MaxPool2D)
    ]


def _walk(layers, prefix=""):
    """(checkpoint prefix, layer) for every layer, depth first (residual blocks nest)."""
    for i, layer in enumerate(layers):
        yield f"{prefix}{i}", layer
        yield from _walk(layer.children(), f"{prefix}{i}.")


class Sequential:
    """Layers applied in order. Parameters are views into two flat buffers (values and gradients).

    ``Sequential(specs, input_shape, backend="numpy", dtype="float32", seed=0, init="glorot_uniform")``;
    weights are drawn on the host from ``seed``, so NumPy and CuPy models start identical. With ``memory`` (a
    ``core.memory.Budget``), the peak memory of training is estimated first and a model that cannot fit is
    refused (ModelError) before anything is allocated; the estimate is ``self.memory``.
    """

    def __init__(
        self,
        specs,
        input_shape,
        *,
        backend: Backend | str = "numpy",
        dtype="float32",
        seed: int = 0,
        init="glorot_uniform",
        loss=None,
        memory: Budget | None = None,
    ):
        self.backend = get_backend(backend)
        self.xp = self.backend.xp
        self.dtype = resolve_dtype(dtype)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.specs = list(specs)
        self.init = init
        parse_initializer(init, "init")
        self.layers, self.output_shape = build_layers(self.specs, self.input_shape)
        if not self.layers:
            raise ModelError("model: expected at least one layer, got an empty list")
        self.layers[0].needs_input_grad = False  # the first layer's input is data
        # Before allocating anything: refuse what cannot fit (``memory``: the batch and optimizer it will train with).
        self.memory: Estimate | None = None
        if memory is not None:
            self.memory = check_memory(self.layers, self.input_shape, self.dtype.itemsize, memory)
        self._allocate(seed)
        self._relu_pools = relu_pool_pairs(self.layers)
        self.fused: str | None = None  # the output activation the loss applies instead (fuse_output)
        if loss is not None:
            self.fuse_output(loss)

    # --- parameters ---------------------------------------------------------------------------
    def named_parameters(self):
        """(checkpoint key, Parameter) in model order: ``0.weight``, ``0.bias``, ``3.1.weight``..."""
        return [(f"{i}.{name}", p) for i, layer in enumerate(self.layers) for name, p in layer.parameters()]

    def named_buffers(self):
        return [(f"{i}.{name}", b) for i, layer in enumerate(self.layers) for name, b in layer.buffers()]

    def _allocate(self, seed: int) -> None:
        named = self.named_parameters()
        # Weights first, so that L1/L2 act on one contiguous slice of the flat buffers.
        order = sorted(named, key=lambda kv: not kv[1].regularized)
        self.size = sum(p.size for _, p in named)
        self.n_regularized = sum(p.size for _, p in named if p.regularized)
        self.params = self.xp.zeros(self.size, dtype=self.dtype)
        self.grads = self.xp.zeros(self.size, dtype=self.dtype)
        offset = 0
        for _, p in order:
            p.offset = offset
            p.bind(p.view(self.params), p.view(self.grads), offset)
            offset += p.size
        self.reset_parameters(seed)
        ctx = Context(self.xp, self.dtype, self.backend.rng(seed + 1))
        self.ctx = ctx
        for layer in self.layers:
            layer.bind(ctx)

    def to_plain(self, flat):
        """``flat`` (a vector in this model's layout: parameters, gradients, an optimizer's state) in the plain
        layout that files keep: each parameter's values in its shape's row-major order, as in the checkpoints,
        at the same offsets. A new array of ``flat``'s kind."""
        xp = self.backend.xp if not isinstance(flat, np.ndarray) else np
        plain = xp.array(flat, copy=True)
        for _, p in self.named_parameters():
            if p.transposed:
                plain[p.offset : p.offset + p.size] = p.view(flat).reshape(-1)
        return plain

    def from_plain(self, plain, out) -> None:
        """Write ``plain`` (a vector in the plain layout, ``to_plain``) into ``out`` (one in this model's)."""
        out[...] = plain
        for _, p in self.named_parameters():
            if p.transposed:
                p.view(out)[...] = plain[p.offset : p.offset + p.size].reshape(p.shape)

    def reset_parameters(self, seed: int = 0) -> None:
        """Draw every parameter again from its initializer (layer's own, else the model's), host-side."""
        rng = np.random.default_rng(seed)
        for key, p in self.named_parameters():
            spec = p.init if p.init is not None else self.init
            p.data[...] = self.xp.asarray(initialize(spec, p.shape, rng, f"model.{key}.init"), dtype=self.dtype)

    def fuse_output(self, loss) -> None:
        """Let the loss apply the output activation it computes stably (softmax for cross_entropy, sigmoid
        for bce): a user's ``activation: softmax`` on the last layer then gives the same numbers, stably."""
        last = self.layers[-1]
        # Only these layers carry an activation (``act``); any other last layer has none to fuse.
        if loss.fuses and isinstance(last, (Dense, Conv2D, Activation)) and last.act.name == loss.fuses:
            from .activations import ACTIVATIONS

            last.act = ACTIVATIONS["identity"]
            self.fused = loss.fuses

    # --- computing ----------------------------------------------------------------------------
    def forward(self, x, training: bool = False, keep: bool = False):
        """The model's output (logits for classification losses). ``keep`` stores every layer's output
        in ``self.outputs`` for monitoring."""
        if x.dtype != self.dtype or not isinstance(x, self.xp.ndarray):
            x = self.xp.asarray(x, dtype=self.dtype)
        outputs: list[Any] | None = [] if keep else None
        # Monitoring (keep) must see each layer's own output, so ReLUs move into max-pools only without it.
        for conv, pool in self._relu_pools:
            conv.defer_relu = pool.apply_relu = not keep
        try:
            for layer in self.layers:
                x = layer.forward(x, training)
                if outputs is not None:
                    outputs.append(x)
        finally:
            for conv, pool in self._relu_pools:
                conv.defer_relu = pool.apply_relu = False
        self.outputs = outputs
        return x

    def backward(self, dout):
        """Back-propagate dL/d(output), writing every parameter's gradient into ``self.grads``.

        Returns dL/d(input), or None when the first layer skips it (the default: the input is data).
        """
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Host copies of parameters and buffers under the contract's keys, in model order."""
        out = {}
        for i, layer in enumerate(self.layers):
            for name, p in layer.parameters():
                out[f"{i}.{name}"] = self.backend.to_host(p.data).copy()
            for name, b in layer.buffers():
                out[f"{i}.{name}"] = self.backend.to_host(b).copy()
        return out

    def load_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        expected = {k: p.shape for k, p in self.named_parameters()}
        expected.update({k: tuple(b.shape) for k, b in self.named_buffers()})
        missing = [k for k in expected if k not in state]
        extra = [k for k in state if k not in expected]
        if missing or extra:
            raise CheckpointError(
                f"{source}: keys do not match the model (missing: {', '.join(missing) or 'none'}; "
                f"unexpected: {', '.join(extra) or 'none'})"
            )
        for key, shape in expected.items():
            if tuple(state[key].shape) != tuple(shape):
                raise CheckpointError(f"{source}: {key} has shape {tuple(state[key].shape)}, the model expects {shape}")
        for key, p in self.named_parameters():
            p.data[...] = self.xp.asarray(state[key], dtype=self.dtype)
        for i, layer in enumerate(self.layers):
            for name, _ in layer.buffers():
                # a copy: training updates buffers in place, which must touch neither the caller's dict nor
                # another model loaded from it (asarray would keep a same-dtype host array by reference)
                layer.set_buffer(name, self.xp.array(state[f"{i}.{name}"], dtype=self.dtype, copy=True))

    def save(self, path) -> None:
        """A plain .npz (loadable with allow_pickle=False)."""
        with open(path, "wb") as f:
            np.savez(f, **self.state_dict())  # type: ignore[arg-type]  # keys are "<i>.<name>", never allow_pickle

    def load(self, path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                state = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a readable .npz checkpoint ({exc})") from None
        self.load_state_dict(state, str(path))

    # --- description --------------------------------------------------------------------------
    def summary(self) -> list[dict]:
        """One row per layer (nested for residual blocks): index, layer, output shape, parameters, FLOPs."""
        rows = []
        for key, layer in _walk(self.layers):
            rows.append(
                dict(
                    index=key,
                    kind=layer.kind,
                    depth=key.count("."),
                    output_shape=layer.output_shape,
                    params=layer.param_count(),
                    flops=layer.flops(),
                    layer=layer,
                )
            )
        return rows

    @property
    def param_count(self) -> int:
        return self.size

    @property
    def flops(self) -> int:
        return sum(layer.flops() for layer in self.layers)

    def config(self) -> list[dict]:
        return [layer.config() for layer in self.layers]

    def __repr__(self) -> str:
        return f"Sequential({len(self.layers)} layers, {self.size} parameters, {self.backend.name}/{self.dtype})"
