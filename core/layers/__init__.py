"""The layers of dl-lab's engine, one small family per module, and the registry that names them."""

from .base import Context, Layer, Parameter
from .batchnorm import BatchNorm
from .conv2d import Conv2D
from .dense import Activation, Dense, Dropout, Flatten
from .pool import AvgPool2D, MaxPool2D
from .residual import Residual

LAYERS: dict[str, type[Layer]] = {
    cls.kind: cls for cls in (Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, Dropout, BatchNorm, Activation, Residual)
}
LAYER_NAMES = tuple(LAYERS)

__all__ = [
    "LAYERS",
    "LAYER_NAMES",
    "Activation",
    "AvgPool2D",
    "BatchNorm",
    "Context",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool2D",
    "Parameter",
    "Residual",
]
