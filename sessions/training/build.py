"""From a validated session to live objects: dataset, model, loss, optimizer, schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dl_lab.core import Schedule, Sequential, get_backend, get_loss, make_optimizer
from dl_lab.core.errors import ConfigError, ModelError
from dl_lab.core.losses import Loss
from dl_lab.core.memory import EVAL_BATCH, Budget, Estimate
from dl_lab.core.optimizers import Optimizer
from dl_lab.datasets import DataError, Dataset, load_config
from dl_lab.datasets.pca import flat_input_error
from dl_lab.sessions.config.weights import apply_weights


class DataFacts(Protocol):
    """What the output check needs to know of the data (a Dataset, or the build screen's probe of it)."""

    name: str
    task: str
    num_classes: int | None
    output_dim: int


@dataclass
class Built:
    dataset: Dataset
    model: Sequential
    loss: Loss
    optimizer: Optimizer
    schedule: Schedule

    @property
    def memory(self) -> Estimate | None:
        """The peak memory estimated before the model was allocated; ``.warnings`` when it is close to the
        machine's limit, ``.line()`` for a report."""
        return self.model.memory


def load_dataset(session, progress=None):
    config = session.config
    return load_config(config.data.to_spec(), base_dir=session.base_dir, dtype=config.dtype, progress=progress)


def check_output(n_layers: int, out: tuple[int, ...], loss: Loss, dataset: DataFacts) -> None:
    """The last of ``n_layers`` layers, with output shape ``out``, must give what the loss needs for this data,
    said in the user's terms."""
    last = f"model[{n_layers - 1}]"
    if len(out) != 1:
        raise ConfigError(f"{last}: the model's output has shape {out}; end with flatten and dense layers")
    if dataset.task == "regression":
        need, why = dataset.output_dim, f"one per regression target of {dataset.name}"
    elif loss.binary:
        if dataset.num_classes != 2:
            raise ConfigError(
                f"loss: {loss.name} is for two classes, but {dataset.name} has {dataset.num_classes}; use cross_entropy"
            )
        need, why = 1, f"{loss.name} takes one score per sample"
    elif loss.name == "hinge" and out[0] == 1 and dataset.num_classes == 2:
        return
    else:
        need, why = dataset.num_classes or 0, f"one logit per class of {dataset.name}"
    if out[0] != need:
        raise ConfigError(f"{last}: the model gives {out[0]} outputs, but {loss.name} needs {need} ({why})")


def memory_budget(config, optimizer: Optimizer, dataset=None, backend: str = "numpy") -> Budget:
    """What the memory estimate needs of a session: its batch, its optimizer's state, the evaluation batches
    (``predict_batches``: up to EVAL_BATCH validation samples) and the monitor's probe. Without a dataset (the
    build screen, ``dl-lab validate``), the batches are their largest possible."""
    batch = config.training.batch_size
    eval_batch = EVAL_BATCH
    probe = 0
    mon = config.monitor
    if dataset is not None:
        batch = max(1, min(batch, len(dataset.y_train)))
        eval_batch = min(EVAL_BATCH, len(dataset.y_val))
    if mon.every_steps:
        probe = mon.sample_size if dataset is None else min(mon.sample_size, len(dataset.y_val) or len(dataset.y_train))
        if dataset is not None and dataset.points_2d is not None:
            probe += mon.boundary_resolution**2
        elif dataset is not None and tuple(dataset.input_shape) == (1,):
            probe += mon.boundary_resolution * 4
    return Budget(
        batch_size=batch,
        optimizer_copies=1 + len(optimizer.state_names()),
        optimizer_name=optimizer.name,
        eval_batch=eval_batch,
        probe_batch=probe,
        backend=backend,
    )


def build(session, dataset=None, backend=None, progress=None) -> Built:
    """Everything a run needs, on the session's backend; the dataset may be passed in (already loaded).

    Errors about the session's content (shapes that do not fit, a loss that does not suit the data) name the
    session file and line.
    """
    try:
        return _build(session, dataset, backend, progress)
    except (ConfigError, ModelError, DataError) as exc:
        raise session.located(exc) from None


def _build(session, dataset, backend, progress) -> Built:
    config = session.config
    dataset = dataset if dataset is not None else load_dataset(session, progress)
    loss = get_loss(config.loss)
    backend_ = get_backend(backend or config.backend)
    optimizer = make_optimizer(config.optimizer.to_spec())
    try:
        model = Sequential(
            list(config.model),
            dataset.input_shape,
            backend=backend_,
            dtype=config.dtype,
            seed=config.seed,
            init=config.init,
            loss=loss,
            memory=memory_budget(config, optimizer, dataset, backend_.name),
        )
    except ModelError as exc:  # an image layer given PCA's flat inputs: say it about data.pca
        raise flat_input_error(config.data.options, exc) from None
    check_output(len(config.model), model.output_shape, loss, dataset)
    apply_weights(model, config.weights, session.base_dir)
    training = config.training
    schedule = Schedule(optimizer.lr, dict(training.schedule), training.epochs, where="training.schedule")
    return Built(dataset, model, loss, optimizer, schedule)
