"""dl-lab's deep-learning engine: layers, losses, optimizers and models on NumPy or CuPy (no UI, no YAML)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_names

# What the engine offers, by the module that defines it, imported when first read (PEP 562): a module that
# needs one of the engine's modules (its errors, to report one) does not import them all, NumPy first. The
# gradient check's function is imported from its module (dl_lab.core.gradcheck.gradcheck): the package's
# attribute of that name is the module as soon as any code has imported it.
WHERE = {
    "ACTIVATIONS": ".activations",
    "ACTIVATION_NAMES": ".activations",
    "Backend": ".backend",
    "BackendError": ".errors",
    "CheckpointError": ".errors",
    "ConfigError": ".errors",
    "DLLabError": ".errors",
    "INITIALIZER_NAMES": ".initializers",
    "LAYERS": ".layers",
    "LAYER_NAMES": ".layers",
    "LOSSES": ".losses",
    "LOSS_NAMES": ".losses",
    "ModelError": ".errors",
    "OPTIMIZERS": ".optimizers",
    "OPTIMIZER_NAMES": ".optimizers",
    "SCHEDULE_NAMES": ".schedules",
    "Schedule": ".schedules",
    "Sequential": ".model",
    "TrainStep": ".step",
    "build_layers": ".model",
    "check_layer": ".gradcheck",
    "cupy_available": ".backend",
    "get_activation": ".activations",
    "get_backend": ".backend",
    "get_loss": ".losses",
    "initialize": ".initializers",
    "make_optimizer": ".optimizers",
    "predict_batches": ".step",
    "resolve_dtype": ".backend",
}


__getattr__ = lazy_names(__name__, WHERE)

if TYPE_CHECKING:
    from .activations import ACTIVATION_NAMES, ACTIVATIONS, get_activation
    from .backend import Backend, cupy_available, get_backend, resolve_dtype
    from .errors import BackendError, CheckpointError, ConfigError, DLLabError, ModelError
    from .gradcheck import check_layer
    from .initializers import INITIALIZER_NAMES, initialize
    from .layers import LAYER_NAMES, LAYERS
    from .losses import LOSS_NAMES, LOSSES, get_loss
    from .model import Sequential, build_layers
    from .optimizers import OPTIMIZER_NAMES, OPTIMIZERS, make_optimizer
    from .schedules import SCHEDULE_NAMES, Schedule
    from .step import TrainStep, predict_batches

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_NAMES",
    "INITIALIZER_NAMES",
    "LAYERS",
    "LAYER_NAMES",
    "LOSSES",
    "LOSS_NAMES",
    "OPTIMIZERS",
    "OPTIMIZER_NAMES",
    "SCHEDULE_NAMES",
    "Backend",
    "BackendError",
    "CheckpointError",
    "ConfigError",
    "DLLabError",
    "ModelError",
    "Schedule",
    "Sequential",
    "TrainStep",
    "build_layers",
    "check_layer",
    "cupy_available",
    "get_activation",
    "get_backend",
    "get_loss",
    "initialize",
    "make_optimizer",
    "predict_batches",
    "resolve_dtype",
]
