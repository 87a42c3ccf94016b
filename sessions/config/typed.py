"""The session once validated, in typed form: what the trainer, the recorder and the front ends read.

``schema.validate`` checks a session's YAML mapping and fills in every default; ``SessionConfig.from_spec``
turns that mapping into these frozen dataclasses, and ``to_spec`` turns it back (a test checks the round
trip for every preset, and that each dataclass has exactly the keys its section of the schema declares).
Layer lists stay as the schema's ``{kind: {option: value}}`` mappings: the engine builds models from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DataConfig:
    """``data:``: the dataset's name and its options (samples, noise, normalize, ...: they differ by dataset)."""

    dataset: str
    options: Mapping[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    @property
    def normalize(self) -> str:
        return str(self.options.get("normalize", "none"))

    def to_spec(self) -> dict:
        return {"dataset": self.dataset, **self.options}


@dataclass(frozen=True)
class OptimizerConfig:
    """``optimizer:``: its name and hyperparameters (lr, momentum, betas, ... as torch.optim names them)."""

    name: str
    options: Mapping[str, Any]

    @property
    def lr(self) -> float:
        return float(self.options["lr"])

    def to_spec(self) -> dict:
        return {"name": self.name, **self.options}


@dataclass(frozen=True)
class RegularizationConfig:
    l2: float
    l1: float


@dataclass(frozen=True)
class EarlyStoppingConfig:
    metric: str
    patience: int
    min_delta: float

    @property
    def larger_is_better(self) -> bool:
        return self.metric.endswith(("acc", "r2"))


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int
    batch_size: int
    shuffle: bool
    drop_last: bool
    schedule: Mapping[str, Any]  # the schedule's config (name and its options), as core.Schedule takes it
    clip_norm: float | None
    early_stopping: EarlyStoppingConfig | None
    checkpoint_every: int


@dataclass(frozen=True)
class MonitorConfig:
    every_steps: int
    bins: int
    sample_size: int
    boundary_resolution: int


@dataclass(frozen=True)
class BoostConfig:
    """``boost:``: AdaBoost of perceptrons (sessions/training/boost.py), ``rounds`` weak learners."""

    rounds: int


@dataclass(frozen=True)
class SessionConfig:
    """A complete, validated session."""

    version: int
    name: str
    seed: int
    backend: str
    dtype: str
    data: DataConfig
    model: tuple[Mapping[str, Any], ...]
    init: Any  # an initializer name, or a mapping with its options
    loss: str
    optimizer: OptimizerConfig
    regularization: RegularizationConfig
    training: TrainingConfig
    monitor: MonitorConfig
    weights: Any = None  # parameters fixed by hand (sessions/config/weights.py), or None
    boost: BoostConfig | None = None  # AdaBoost of perceptrons, or None (a plain run)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> SessionConfig:
        """From ``schema.validate``'s output (every key present)."""
        data = dict(spec["data"])
        optimizer = dict(spec["optimizer"])
        training = dict(spec["training"])
        es = training["early_stopping"]
        training["early_stopping"] = EarlyStoppingConfig(**es) if es else None
        return cls(
            version=spec["version"],
            name=spec["name"],
            seed=spec["seed"],
            backend=spec["backend"],
            dtype=spec["dtype"],
            data=DataConfig(data.pop("dataset"), data),
            model=tuple(spec["model"]),
            init=spec["init"],
            loss=spec["loss"],
            optimizer=OptimizerConfig(optimizer.pop("name"), optimizer),
            regularization=RegularizationConfig(**spec["regularization"]),
            training=TrainingConfig(**training),
            monitor=MonitorConfig(**spec["monitor"]),
            weights=spec.get("weights"),
            boost=BoostConfig(**spec["boost"]) if spec.get("boost") is not None else None,
        )

    def to_spec(self) -> dict:
        """The mapping ``schema.validate`` gave (what session.yaml holds, every default filled in)."""
        training = _plain(self.training)
        if self.training.early_stopping is not None:
            training["early_stopping"] = _plain(self.training.early_stopping)
        spec = {
            "version": self.version,
            "name": self.name,
            "seed": self.seed,
            "backend": self.backend,
            "dtype": self.dtype,
            "data": self.data.to_spec(),
            "model": list(self.model),
            "init": self.init,
            "loss": self.loss,
            "optimizer": self.optimizer.to_spec(),
            "regularization": _plain(self.regularization),
            "training": training,
            "monitor": _plain(self.monitor),
        }
        if self.weights is not None:
            spec["weights"] = self.weights
        if self.boost is not None:
            spec["boost"] = _plain(self.boost)
        return spec


def _plain(obj) -> dict:
    """A flat dataclass's fields as a dict (not ``asdict``: nested configs are converted by the caller)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}
