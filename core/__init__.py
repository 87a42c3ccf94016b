"""dl-lab's deep-learning engine: layers, losses, optimizers and models on NumPy or CuPy (no UI, no YAML)."""

from .activations import ACTIVATION_NAMES, ACTIVATIONS, get_activation
from .backend import Backend, cupy_available, get_backend, resolve_dtype
from .errors import BackendError, CheckpointError, ConfigError, DLLabError, ModelError
from .gradcheck import check_layer, gradcheck
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
    "gradcheck",
    "initialize",
    "make_optimizer",
    "predict_batches",
    "resolve_dtype",
]
