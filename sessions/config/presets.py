"""Presets: the example sessions shipped in sessions/presets/ (installed with dl_lab.sessions), by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from dl_lab.core.spec import closest
from dl_lab.sessions.errors import SessionError

DEFAULT = "spiral"
# The course's order (the README's): the preset picker and `dl-lab new --list` show them so. A preset file not named
# here comes after these, alphabetically.
ORDER = (
    "mcculloch_pitts",
    "perceptron",
    "adaline",
    "logistic_regression",
    "xor",
    "xor_by_hand",
    "backprop_example",
    "boost",
    "circle_width",
    "spiral",
    "spiral_deep",
    "sine",
    "activations",
    "optimizers",
    "regularization",
    "initialization",
    "digits_mlp",
    "digits_cnn",
    "lenet5_digits",
    "residual",
    "mnist",
    "lenet5",
    "fashion_mnist",
    "cifar10",
    "vgg_small",
)


def _folder():
    return resources.files("dl_lab.sessions") / "presets"


def course_order(names) -> list[str]:
    """``names`` in the course's ORDER, the ones it does not name last and alphabetical."""
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def _names() -> list[str]:
    return course_order(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".yaml"))


class _Presets:
    """A live view of the preset names (the YAML files of dl_lab.sessions/presets), in the course's order."""

    def __iter__(self):
        return iter(_names())

    def __contains__(self, name) -> bool:
        return name in _names()

    def __len__(self) -> int:
        return len(_names())


PRESETS = _Presets()


def preset_path(name: str) -> Path:
    if name not in PRESETS:
        names = _names()
        raise SessionError(f"preset {name!r} not found{closest(name, names)}; presets: {', '.join(names)}")
    return Path(str(_folder() / f"{name}.yaml"))


def preset_text(name: str) -> str:
    return preset_path(name).read_text(encoding="utf-8")


def preset_session(name: str, overrides=()):
    from dl_lab.sessions.config.session import load_session

    return load_session(preset_path(name), overrides)


def default_session(overrides=()):
    """The session the app opens with and `dl-lab run` trains when given none: offline, seconds to train."""
    return preset_session(DEFAULT, overrides)
