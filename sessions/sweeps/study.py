"""A sweep's study on Optuna: the storage, the workers' loop (ask, run a recorded trial, tell) and the trials
as plain records for `dl-lab sweep status`.

Each worker is a process with its own loop; they share the study through the storage: a journal file in the
sweep folder (``SWEEP_DIR/journal.log``, one machine) or a database URL (``--storage``). A trial is a normal
recorded run in ``SWEEP_DIR/trials/trial-NNNN/``; dl-lab's run loop stays in control (ask-and-tell): each epoch
reports the metric to Optuna, and a trial the pruner stops ends as a stopped run, told PRUNED.

The trial's value is the best epoch's metric for the sweep's goal (the highest val_acc, the lowest val_loss):
what the run reached, not where its last epoch happened to land.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dl_lab.sessions.events import EpochEnded, RunCancelled, RunEnded, RunFailed
from dl_lab.sessions.sweeps.config import SweepConfig, SweepError, sweep_from_dict
from dl_lab.sessions.sweeps.listing import JOURNAL, trial_dir

BUDGET_LOCK = "budget.lock"
INTERRUPTED = "interrupted"  # user attribute of a trial a stop signal ended: FAIL, not counted in the budget
RUN_DIR = "run_dir"
WORKER = "worker"  # user attribute: the host and process id of the worker that ran the trial
SWEEP_ATTR = "dl_lab_sweep"  # the study's user attribute: the sweep file as written, and its base session's spec
BUDGET_KEYS = ("trials", "timeout_s")  # may change between runs of one sweep; the rest may not
# An RDB storage's heartbeat: a worker that died (SIGKILL, a lost machine) has its trial failed once it has
# been silent for GRACE_BEATS heartbeats, and re-queued with the same parameters, MAX_RETRY times at most.
HEARTBEAT_S, GRACE_BEATS, MAX_RETRY = 10.0, 3, 2
SCHEMA_TRIES = 5
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def storage(sweep_dir: Path | None, url: str | None, heartbeat_s: float = HEARTBEAT_S) -> Any:
    """The study's storage: the database at ``url`` (heartbeats every ``heartbeat_s`` seconds, retries on), else
    the sweep folder's journal."""
    import optuna

    if url:
        import optuna.storages as storages

        retry = _retry_callback()
        for attempt in range(SCHEMA_TRIES):
            try:
                with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's words
                    warnings.simplefilter("ignore")
                    return storages.RDBStorage(
                        url,
                        heartbeat_interval=max(1, round(heartbeat_s)),
                        grace_period=max(2, round(GRACE_BEATS * heartbeat_s)),
                        heartbeat_stale_trial_callback=retry(max_retry=MAX_RETRY),
                    )
            except Exception as exc:  # a bad URL, a missing driver, a server that is down: one line
                # workers started together on a new database race to create Optuna's tables: the loser's
                # CREATE fails (IntegrityError on PostgreSQL), and the tables are there when it tries again
                if type(exc).__name__ in ("IntegrityError", "ProgrammingError") and attempt + 1 < SCHEMA_TRIES:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                hint = " (for PostgreSQL: pip install 'dl-lab[distributed]')" if isinstance(exc, ImportError) else ""
                raise SweepError(f"--storage {url}: {type(exc).__name__}: {exc}".splitlines()[0] + hint) from None
    if sweep_dir is None:
        raise SweepError("a sweep needs its folder (--out) or a --storage URL")
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(Path(sweep_dir) / JOURNAL)))


def sampler(config: SweepConfig, seed: int | None = None) -> Any:
    import optuna

    if config.sampler == "grid":

        class AskTellGridSampler(optuna.samplers.GridSampler):
            """Optuna's grid, without its study.stop() once the grid is covered (allowed only inside
            study.optimize; the workers stop at the grid's size: budget_of)."""

            def after_trial(self, study, trial, state, values) -> None:
                return None

        return AskTellGridSampler(config.grid(), seed=seed)
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner(config: SweepConfig) -> Any:
    import optuna

    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()


def open_study(config: SweepConfig, store: Any, *, seed: int | None = None) -> Any:
    """The sweep's study (created on the first call, loaded after), with this process's sampler and pruner.

    The study keeps the sweep (SWEEP_ATTR: the file as written, its base session whole), so that a worker on
    another machine needs only the storage and the study's name (``stored_sweep``); a study that holds another
    sweep of the same name is refused."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=config.name,
        storage=store,
        sampler=sampler(config, seed),
        pruner=pruner(config),
        direction="maximize" if config.goal == "max" else "minimize",
        load_if_exists=True,
    )
    mine = {"file": config.raw, "session": config.session.spec}
    kept = study.user_attrs.get(SWEEP_ATTR)
    if kept is None:
        study.set_user_attr(SWEEP_ATTR, json.loads(json.dumps(mine)))
    elif _searched(kept) != _searched(json.loads(json.dumps(mine))):
        raise SweepError(
            f"study {config.name!r} holds another sweep of that name (another space, metric or session); "
            "rename the sweep file or choose another storage"
        )
    return study


def _searched(kept: dict) -> dict:
    """What must stay the same for a study: the sweep file but its budget, and the base session."""
    file = {k: v for k, v in kept.get("file", {}).items() if k not in BUDGET_KEYS and k != "session"}
    return {"file": file, "session": kept.get("session")}


def stored_sweep(study: Any) -> SweepConfig:
    """The sweep a study was started with (``dl-lab sweep worker``: no sweep file on this machine): validated
    again here; a session's data files are read relative to the working directory."""
    kept = study.user_attrs.get(SWEEP_ATTR)
    if not isinstance(kept, dict) or not isinstance(kept.get("file"), dict):
        raise SweepError(f"study {study.study_name!r} was not started by dl-lab sweep (it holds no sweep)")
    raw = dict(kept["file"])
    raw["session"] = kept["session"]
    return sweep_from_dict(raw, Path(f"{study.study_name}.yaml"))


def budget_of(config: SweepConfig, trials: int | None) -> int | None:
    """The number of finished trials the sweep stops at (a grid: at most its size); None: only a timeout."""
    n = trials if trials is not None else config.trials
    if config.sampler == "grid":
        n = min(n, config.grid_size()) if n is not None else config.grid_size()
    return n


def counted(study: Any) -> int:
    """Trials the budget counts: finished (complete, pruned, failed) or running; not a trial a stop signal
    interrupted, nor one whose dead worker's trial was queued again (its retry counts instead)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {_retried(t) for t in trials}
    n = 0
    for t in trials:
        if t.state == TrialState.FAIL and (t.user_attrs.get(INTERRUPTED) or t.number in retried):
            continue
        if t.state.is_finished() or t.state == TrialState.RUNNING:
            n += 1
    return n


def queued(study: Any) -> bool:
    """Whether a dead worker's trial waits to be run again (queued by the heartbeat check; a trial enqueued by
    hand waits within the budget like any other)."""
    from optuna.trial import TrialState

    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    return any(_retried(t) is not None for t in waiting)


def others_running(study: Any, mine: set[int]) -> bool:
    """Whether a trial of another worker is still running (or queued again after its worker died)."""
    from optuna.trial import TrialState

    states = (TrialState.RUNNING, TrialState.WAITING)
    return any(t.number not in mine for t in study.get_trials(deepcopy=False, states=states))


def fail_stale(study: Any) -> int:
    """Trials left RUNNING by a sweep that was killed (the journal has no heartbeat): FAIL, marked interrupted.
    Called only by the process that holds the sweep folder's lock, before its workers start."""
    from optuna.trial import TrialState

    stale = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
    for t in stale:
        study._storage.set_trial_user_attr(t._trial_id, INTERRUPTED, True)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    return len(stale)


@contextmanager
def budget_lock(sweep_dir: Path | None) -> Iterator[None]:
    """Count and ask under one lock (the sweep folder's), so that a machine's workers never overshoot the budget
    and a grid's point is never taken twice. With a database, machines share no folder: each may start one trial
    past the budget when they ask at the same moment."""
    if sweep_dir is None:
        yield
        return
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(Path(sweep_dir) / BUDGET_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@dataclass
class Stop:
    """Set by a stop signal: the trial under way stops after its batch, and the worker asks for no more."""

    set: bool = False

    def __call__(self) -> bool:
        return self.set


def run_trial(config: SweepConfig, study: Any, trial: Any, run_dir: Path, stop: Callable[[], bool]) -> str:
    """Train the trial's session as a recorded run in ``run_dir``, reporting the metric each epoch, and tell the
    study how it ended; returns the state told. Nothing the run does crashes the worker: a run that diverges, a
    session the parameters make invalid, a data error: FAIL with the message."""
    from optuna.trial import TrialState

    from dl_lab.sessions.training.loop import run_recorded
    from dl_lab.sessions.training.trainer import Trainer

    pruned = False
    best: float | None = None

    def should_stop() -> bool:
        return pruned or stop()

    def on_event(event) -> None:
        nonlocal pruned, best
        if not isinstance(event, EpochEnded):
            return
        value = getattr(event, config.metric)
        if value is None or not math.isfinite(value):
            return
        if best is None or config.better(value, best):
            best = value
        trial.report(float(value), event.epoch)
        if trial.should_prune():
            pruned = True

    with heartbeat(study, trial):  # a database's heartbeat while the trial trains, as study.optimize keeps it
        try:
            session = config.trial_session(trial.params)
            trainer = Trainer(session)
            last = run_recorded(trainer, run_dir, should_stop, on_event)
        except Exception as exc:  # never crash the sweep: the trial fails with the message
            last, error = None, f"{type(exc).__name__}: {exc}"
        else:
            error = ""
    if error:
        return _tell(study, trial, TrialState.FAIL, message=error, run_dir=run_dir)
    if isinstance(last, RunFailed):
        return _tell(study, trial, TrialState.FAIL, message=last.message, run_dir=run_dir)
    if pruned:
        return _tell(study, trial, TrialState.PRUNED, run_dir=run_dir)
    if isinstance(last, RunCancelled):
        return _tell(study, trial, TrialState.FAIL, message="stopped by a signal", run_dir=run_dir, interrupted=True)
    if isinstance(last, RunEnded) and best is not None:
        return _tell(study, trial, TrialState.COMPLETE, value=best, run_dir=run_dir)
    what = f"the run recorded no finite {config.metric}"
    return _tell(study, trial, TrialState.FAIL, message=what, run_dir=run_dir)


def heartbeat(study: Any, trial: Any) -> Any:
    """Optuna's heartbeat thread for ``trial`` where the storage keeps heartbeats (an RDB with
    heartbeat_interval); study.optimize starts it, ask-and-tell must start it itself (Optuna's module for it is
    private: without it, no heartbeat)."""
    try:
        from optuna.storages._heartbeat import get_heartbeat_thread
    except ImportError:
        return nullcontext()
    return get_heartbeat_thread(trial._trial_id, study._storage)


def fail_stale_heartbeats(study: Any) -> None:
    """Trials whose worker stopped beating: FAIL (the RDB's callback re-queues them), before each ask, as
    study.optimize does."""
    import optuna

    with warnings.catch_warnings():  # a storage without heartbeats (the journal): nothing to do
        warnings.simplefilter("ignore")  # fail_stale_trials is marked experimental
        optuna.storages.fail_stale_trials(study)


def _tell(study, trial, state, *, value=None, message="", run_dir: Path, interrupted: bool = False) -> str:
    if message:
        trial.set_user_attr("message", message)
    if interrupted:
        trial.set_user_attr(INTERRUPTED, True)
    study.tell(trial, value if state.name == "COMPLETE" else None, state=state)
    _note_in_summary(run_dir, study.study_name, trial.number, state.name)
    return state.name


def _note_in_summary(run_dir: Path, study: str, number: int, state: str) -> None:
    """The run's summary.json says which sweep trial it was and how Optuna recorded it (a pruned run is
    'cancelled' to dl-lab: stopped between batches, resumable)."""
    path = run_dir / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["sweep"] = {"study": study, "trial": number, "state": state}
        tmp = path.with_suffix(".json.new")
        tmp.write_text(json.dumps(summary, indent=1), encoding="utf-8")
        tmp.replace(path)
    except (OSError, ValueError):
        pass  # the run is recorded as it is; the study holds the trial's state


@dataclass(frozen=True)
class Worker:
    """What a worker process needs: the sweep, where its trials' runs go (``folder``: the sweep folder, which
    holds the journal when there is no ``url``), the budget and the time it may ask new trials until."""

    config: SweepConfig
    folder: Path
    url: str | None = None
    trials: int | None = None
    deadline: float | None = None
    heartbeat_s: float = HEARTBEAT_S
    seed: int | None = None


def work(job: Worker, stop: Callable[[], bool] | None = None) -> int:
    """One worker's loop: while the budget and the time allow, ask a trial, run it, tell it. Returns the
    number of trials this worker ran.

    On a database, a worker whose budget is taken while other workers' trials still run waits for them: a trial
    whose worker died is failed by the heartbeat check (``fail_stale_heartbeats``, before each ask) and queued
    again, and one of the waiting workers runs it."""
    config, url = job.config, job.url
    job.folder.mkdir(parents=True, exist_ok=True)
    study = open_study(config, storage(job.folder, url, job.heartbeat_s), seed=job.seed)
    budget = budget_of(config, job.trials)
    stop = stop or (lambda: False)
    where = f"{socket.gethostname()}:{os.getpid()}"
    ran: set[int] = set()
    distributions = config.distributions()
    while not stop():
        if job.deadline is not None and time.time() >= job.deadline:
            break
        with budget_lock(job.folder):  # this machine's workers; other machines' may still race (see budget_lock)
            fail_stale_heartbeats(study)
            if budget is not None and counted(study) >= budget and not queued(study):
                if url is None or not others_running(study, ran):
                    break
                trial = None
            else:  # within the budget, or a dead worker's trial queued again: it takes that trial's place
                with warnings.catch_warnings():  # "heartbeat ... with Study.optimize": this loop keeps it
                    warnings.filterwarnings("ignore", message="Heartbeat of storage")
                    trial = study.ask(distributions)
                run_dir = trial_dir(job.folder, trial.number).resolve()
                trial.set_user_attr(RUN_DIR, str(run_dir))
                trial.set_user_attr(WORKER, where)
        if trial is None:  # wait for the others' trials: one may come back to be retried
            _sleep(job.heartbeat_s, stop)
            continue
        ran.add(trial.number)
        run_trial(config, study, trial, run_dir, stop)
    return len(ran)


def _sleep(seconds: float, stop: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while not stop() and time.monotonic() < end:
        time.sleep(0.1)


def worker_main(job: Worker) -> None:
    """A worker process's entry: a stop signal (Ctrl-C reaches every process of the terminal's group) stops the
    trial under way after its batch, tells it, and ends the loop; the journal is written only between trials'
    events, never torn by the signal."""
    stop = Stop()

    def handler(signum, frame):
        stop.set = True

    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    work(job, stop)


# --- status ---------------------------------------------------------------------------------------------------


def trial_records(study: Any) -> list[dict]:
    """Each trial as `dl-lab sweep status --json` prints it: number, state (Optuna's name), params, value,
    run_dir (and the message of a failed one)."""
    out = []
    for t in study.get_trials(deepcopy=False):
        record = {
            "number": t.number,
            "state": t.state.name,
            "params": dict(t.params),
            "value": t.value if t.value is None or math.isfinite(t.value) else None,
            "run_dir": t.user_attrs.get(RUN_DIR),
            "worker": t.user_attrs.get(WORKER),
        }
        retried = _retried(t)
        if retried is not None:
            record["retry_of"] = retried
        if t.user_attrs.get("message"):
            record["message"] = t.user_attrs["message"]
        out.append(record)
    return out


def _retried(trial: Any) -> int | None:
    """The number of the trial this one retries (a dead worker's), or None."""
    with warnings.catch_warnings():  # "experimental" in Optuna's words
        warnings.simplefilter("ignore")
        return _retry_callback().retried_trial_number(trial)


def _retry_callback() -> Any:
    """Optuna's callback that queues a dead worker's trial again (RetryFailedTrialCallback before Optuna 4.9)."""
    import optuna.storages as storages

    return getattr(storages, "RetryHeartbeatStaleTrialCallback", None) or storages.RetryFailedTrialCallback


def best_record(study: Any, records: list[dict]) -> dict | None:
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        return None
    number = study.best_trial.number
    return next(r for r in records if r["number"] == number)


def slices(study: Any) -> list[tuple[str, str, list[tuple[Any, float]]]]:
    """For each searched parameter: its name, its axis ("log", "linear" or "choice", from the trials'
    distributions) and the complete trials' (value of the parameter, metric) points."""
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    out = []
    names = sorted({name for t in complete for name in t.params})
    for name in names:
        having = [t for t in complete if name in t.params and t.value is not None and math.isfinite(t.value)]
        if not having:
            continue
        dist = having[0].distributions[name]
        kind = "choice" if isinstance(dist, CategoricalDistribution) else "log" if dist.log else "linear"
        out.append((name, kind, [(t.params[name], float(t.value)) for t in having]))
    return out


def importances(study: Any) -> dict[str, float] | None:
    """Parameter importances of the complete trials (Optuna's default evaluator); None with fewer than 2 or when
    nothing can be attributed."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    try:
        with warnings.catch_warnings():  # "importances will be equal" on a tiny study: the numbers say so
            warnings.simplefilter("ignore")
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):  # every trial with the same parameters or value: nothing to attribute
        return None


def open_status(target: str, url: str | None, store: Any = None) -> tuple[Any, Path | None]:
    """The study named by ``target``: a sweep folder (its journal), or a study name on ``url``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url:
        store = store if store is not None else storage(None, url)
        name = target
    else:
        folder = Path(target)
        if not (folder / JOURNAL).is_file():
            raise SweepError(f"{target}: not a sweep folder (no {JOURNAL}); give the folder dl-lab sweep --out wrote")
        store = storage(folder, None)
        names = optuna.get_all_study_names(store)
        if not names:
            raise SweepError(f"{target}: the journal holds no study yet")
        name = names[0]
    try:
        study = optuna.load_study(study_name=name, storage=store)
    except KeyError:
        names = optuna.get_all_study_names(store)
        known = f" (it holds {', '.join(sorted(names))})" if names else " (it holds no study yet)"
        raise SweepError(f"--storage: no study named {name!r}{known}") from None
    return study, None if url else Path(target)
