"""The engine's exceptions: each message says what was expected, what was received, and where."""


class DLLabError(Exception):
    """Base class of every error dl-lab reports to a user as one clear message."""


class ConfigError(DLLabError, ValueError):
    """A layer, loss, optimizer or initializer was described with a bad name or value."""


class ModelError(DLLabError, ValueError):
    """A stack of layers does not fit together (shapes) or cannot be built."""


class BackendError(DLLabError, RuntimeError):
    """The requested array backend or dtype is not available."""


class CheckpointError(DLLabError, ValueError):
    """A checkpoint file does not match the model it is loaded into."""
