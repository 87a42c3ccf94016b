"""`dl-lab sweep`: a hyperparameter search on Optuna with worker processes, and `dl-lab sweep status`.

The command holds the sweep folder's lock, starts K worker processes (sessions/sweeps/study.py worker_main) on
the study's storage and prints a progress line while they run. Ctrl-C (or SIGTERM, SIGHUP) stops each worker's
trial after its batch; each tells the study how it ended, so the journal stays consistent and the same command
resumes the study later.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from contextlib import suppress
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from dl_lab.sessions.config.yamlio import dump_yaml
from dl_lab.sessions.runs.directory import RunLock
from dl_lab.sessions.sweeps import study as sweeps
from dl_lab.sessions.sweeps.config import SweepConfig, SweepError, load_sweep
from dl_lab.sessions.sweeps.listing import JOURNAL, SWEEP_FILE, TRIALS_DIR, sweeps_root
from dl_lab.sessions.training.process_worker import BLAS_ENV, child_environment

from .render import console, slice_plot
from .runner import STOP_SIGNALS

EXIT_OK = 0
BUDGET_KEYS = sweeps.BUDGET_KEYS  # may change between runs of one sweep; the rest may not


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def _same_sweep(folder: Path, config: SweepConfig) -> None:
    """The folder's sweep.yaml is the file first run there; a resumed sweep must search the same space."""
    kept = folder / SWEEP_FILE
    wanted = {k: v for k, v in config.raw.items() if k not in BUDGET_KEYS}
    if kept.is_file():
        try:
            earlier = load_sweep_raw(kept)
        except SweepError:
            earlier = None
        if earlier is not None and {k: v for k, v in earlier.items() if k not in BUDGET_KEYS} != wanted:
            raise SweepError(
                f"{folder}: holds a sweep of another file or space ({kept}); choose another --out to start a new one"
            )
        return
    kept.write_text(dump_yaml(config.raw), encoding="utf-8")


def load_sweep_raw(path: Path) -> dict | None:
    from dl_lab.sessions.config.yamlio import read_yaml_file

    try:
        raw, _ = read_yaml_file(path)
    except Exception as exc:
        raise SweepError(str(exc)) from None
    return raw if isinstance(raw, dict) else None


def _counts(study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        state = t.state.name
        if state == "FAIL" and t.user_attrs.get(sweeps.INTERRUPTED):
            state = "INTERRUPTED"
        counts[state] = counts.get(state, 0) + 1
    return counts


class Progress:
    """The progress line: trials done (complete, pruned, failed) against the budget, those running, the best so
    far and, once a trial has ended here, the time left (from this command's pace, or its deadline if sooner)."""

    def __init__(self, config: SweepConfig, study, budget: int | None, deadline: float | None) -> None:
        self.config, self.study, self.budget, self.deadline = config, study, budget, deadline
        self.start = time.time()
        self.done_at_start = self.done()

    def done(self) -> int:
        c = _counts(self.study)
        return c.get("COMPLETE", 0) + c.get("PRUNED", 0) + c.get("FAIL", 0)

    def line(self) -> str:
        c = _counts(self.study)
        done = c.get("COMPLETE", 0) + c.get("PRUNED", 0) + c.get("FAIL", 0)
        line = (
            f"dl-lab: sweep {self.config.name}: {done}{f'/{self.budget}' if self.budget else ''} trials done "
            f"({c.get('COMPLETE', 0)} complete, {c.get('PRUNED', 0)} pruned, {c.get('FAIL', 0)} failed), "
            f"{c.get('RUNNING', 0)} running"
        )
        try:
            best = self.study.best_trial
            line += f"; best {self.config.metric} {best.value:.4g} (trial {best.number})"
        except ValueError:
            pass
        eta = self.eta(done)
        return line + (f"; about {_duration(eta)} left" if eta is not None else "")

    def eta(self, done: int) -> float | None:
        now = time.time()
        left = []
        ended_here = done - self.done_at_start
        if self.budget is not None and ended_here > 0:
            left.append((now - self.start) / ended_here * max(0, self.budget - done))
        if self.deadline is not None:
            left.append(max(0.0, self.deadline - now))
        return min(left) if left else None


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _check_options(trials: int | None, workers: int | None, timeout: float | None, heartbeat: float) -> None:
    if trials is not None and trials < 1:
        raise SweepError(f"--trials {trials}: at least 1")
    if workers is not None and workers < 1:
        raise SweepError(f"--workers {workers}: at least 1")
    if timeout is not None and timeout <= 0:
        raise SweepError(f"--timeout {timeout:g}: a positive number of seconds")
    if not heartbeat >= 1:
        raise SweepError(f"--heartbeat {heartbeat:g}: at least 1 second")


def sweep(
    file: Path,
    trials: int | None,
    workers: int | None,
    out: Path | None,
    timeout: float | None,
    url: str | None,
    heartbeat: float = sweeps.HEARTBEAT_S,
) -> int:
    config = load_sweep(file)
    _check_options(trials, workers, timeout, heartbeat)
    budget = sweeps.budget_of(config, trials)
    timeout = timeout if timeout is not None else config.timeout_s
    if budget is None and timeout is None:
        raise SweepError(f"{file}: give trials: or timeout_s: in the sweep file, or --trials or --timeout")
    folder = _folder(out, config)
    lock = RunLock(folder)  # one `dl-lab sweep` a folder: it alone may fail the trials a killed sweep left running
    try:
        _same_sweep(folder, config)
        store = sweeps.storage(folder, url, heartbeat)
        study = sweeps.open_study(config, store)
        if url is None:
            stale = sweeps.fail_stale(study)
            if stale:
                console(stderr=True).print(f"dl-lab: {stale} trial(s) left running by a stopped sweep marked FAIL")
        job = sweeps.Worker(config, folder, url, trials, _deadline(timeout), heartbeat)
        return _drive(job, study, budget, workers)
    finally:
        lock.release()


def worker(
    name: str | None,
    url: str | None,
    trials: int | None,
    workers: int | None,
    out: Path | None,
    timeout: float | None,
    heartbeat: float = sweeps.HEARTBEAT_S,
) -> int:
    """`dl-lab sweep worker --storage URL --study NAME`: join a sweep started on a database, from any machine
    that reaches it (and the session's data). The study holds the sweep; the trials' runs are written here."""
    if not url:
        raise SweepError("dl-lab sweep worker: --storage URL: the database the sweep's study is on")
    if not name:
        raise SweepError("dl-lab sweep worker: --study NAME: the sweep's study (its sweep file's name)")
    _check_options(trials, workers, timeout, heartbeat)
    store = sweeps.storage(None, url, heartbeat)
    study, _ = sweeps.open_status(name, url, store)
    config = sweeps.stored_sweep(study)
    study = sweeps.open_study(config, store)  # with the sweep's sampler and pruner
    budget = sweeps.budget_of(config, trials)
    timeout = timeout if timeout is not None else config.timeout_s
    folder = _folder(out, config)
    job = sweeps.Worker(config, folder, url, trials, _deadline(timeout), heartbeat)
    return _drive(job, study, budget, workers)


def _folder(out: Path | None, config: SweepConfig) -> Path:
    folder = Path(out) if out is not None else sweeps_root() / config.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"--out {folder}: cannot create the folder ({exc.strerror or exc})") from None
    return folder


def _deadline(timeout: float | None) -> float | None:
    return time.time() + timeout if timeout is not None else None


def _drive(job: sweeps.Worker, study, budget: int | None, workers: int | None) -> int:
    config, folder, url = job.config, job.folder, job.url
    err = console(stderr=True)
    k = workers or default_workers()
    if budget is not None:
        k = max(1, min(k, budget - sweeps.counted(study)))
    taken = budget is not None and sweeps.counted(study) >= budget and not sweeps.queued(study)
    if taken and (url is None or not sweeps.others_running(study, set())):  # on a database: wait for the others
        err.print(
            f"dl-lab: sweep {config.name}: the study already has {budget} trials; raise --trials to go on",
            soft_wrap=True,
        )
        _final(config, study, folder, url)
        return EXIT_OK
    if url is None:
        where = f"on {folder / JOURNAL}, trials in {folder / TRIALS_DIR}"
    else:
        where = f"on {_safe_url(url)}, this machine's trials in {folder / TRIALS_DIR}"
    err.print(f"dl-lab: sweep {config.name}: {k} worker(s) {where}", soft_wrap=True)
    # spawned workers, each with its share of the cores for BLAS (unless OPENBLAS_NUM_THREADS or MKL_NUM_THREADS
    # were chosen): K workers whose BLAS each use every core wait on each other (2 workers on 2 cores: 1.6 times
    # the trials a minute with one BLAS thread each, bench/sweep_bench.py); a forked worker would keep this
    # process's BLAS threads, fixed when NumPy loaded
    threads = None if any(os.environ.get(name) for name in BLAS_ENV) else max(1, (os.cpu_count() or 1) // k)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=sweeps.worker_main, args=(job,), name=f"dl-lab-sweep-{i}") for i in range(k)]
    stopped: list[int] = []

    def handler(signum, frame):
        if stopped:
            return
        stopped.append(signum)
        err.print(
            "dl-lab: stopping the workers after their batch; the trials under way are told as interrupted",
            soft_wrap=True,
        )
        for p in procs:
            if p.pid is not None and p.is_alive():
                with suppress(OSError):  # it ended meanwhile
                    os.kill(p.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    progress = Progress(config, study, budget, job.deadline)
    try:
        with child_environment(threads):
            for p in procs:
                p.start()
        last = ""
        while any(p.is_alive() for p in procs):
            time.sleep(0.2)
            line = progress.line()
            if line.split("; about")[0] != last.split("; about")[0]:  # a new line when a trial starts or ends
                err.print(escape(line), soft_wrap=True)
                last = line
        for p in procs:
            p.join()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    line = progress.line().split("; about")[0]
    if line != last.split("; about")[0]:
        err.print(escape(line), soft_wrap=True)
    _final(config, study, folder, url)
    if stopped:
        err.print(f"dl-lab: stopped; run the same command again to continue the sweep in {folder}", soft_wrap=True)
        return 128 + stopped[0]
    crashed = [p.exitcode for p in procs if p.exitcode]
    if crashed:
        err.print(f"[bold red]dl-lab: {len(crashed)} worker(s) ended with an error[/] (exit {crashed[0]})")
        return 3
    return EXIT_OK


def _final(config: SweepConfig, study, folder: Path, url: str | None) -> None:
    out = console()
    records = sweeps.trial_records(study)
    best = sweeps.best_record(study, records)
    if best is None:
        out.print(f"sweep {config.name}: no complete trial yet")
    else:
        params = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        out.print(f"best: trial {best['number']}, {config.metric} {best['value']:.4g} ({params})", soft_wrap=True)
        out.print(f"run: {best['run_dir']}", soft_wrap=True)
    target = folder if url is None else f"{config.name} --storage {_safe_url(url)}"
    out.print(f"all trials: dl-lab sweep status {target}", soft_wrap=True)


def _safe_url(url: str) -> str:
    """A database URL as printed: without its password."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password:
            host = parts.netloc.rsplit("@", 1)[1]
            return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    except ValueError:
        pass
    return url


def status(target: str, url: str | None, as_json: bool) -> None:
    study, folder = sweeps.open_status(target, url)
    records = sweeps.trial_records(study)
    best = sweeps.best_record(study, records)
    if as_json:
        print(json.dumps({"study": study.study_name, "trials": records, "best": best}, indent=1, default=str))
        return
    out = console()
    table = Table(title=f"sweep {study.study_name}: {len(records)} trials")
    for name, justify in (("#", "right"), ("state", "left"), ("value", "right"), ("params", "left"), ("run", "left")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in records:
        params = ", ".join(f"{k}={_short(v)}" for k, v in r["params"].items())
        value = f"{r['value']:.4g}" if r["value"] is not None else "-"
        state = r["state"] + (f": {r['message']}" if r.get("message") else "")
        mark = "*" if best is not None and r["number"] == best["number"] else ""
        run = escape(_where(r["run_dir"], folder))
        table.add_row(f"{mark}{r['number']}", escape(state), value, escape(params), run)
    out.print(table)
    if best is not None:
        out.print(f"best: trial {best['number']}, value {best['value']:.4g}, run {best['run_dir']}", soft_wrap=True)
    found = sweeps.importances(study)
    if found:
        out.print("parameter importances: " + ", ".join(f"{k} {v:.2f}" for k, v in found.items()), soft_wrap=True)
    sys.stdout.flush()
    metric = _metric_name(study)
    for name, kind, points in sweeps.slices(study):
        if len(points) >= 2:
            print(slice_plot(points, name, metric, kind, width=min(out.width, 100)))
    sys.stdout.flush()


def _metric_name(study) -> str:
    kept = study.user_attrs.get(sweeps.SWEEP_ATTR) or {}
    metric = (kept.get("file") or {}).get("metric") or {}
    return str(metric.get("name", "value")) if isinstance(metric, dict) else "value"


def _where(run_dir: str | None, folder: Path | None) -> str:
    """A trial's run folder, relative to the sweep folder when it lies inside (the JSON keeps the whole path)."""
    if not run_dir:
        return ""
    if folder is not None:
        with suppress(ValueError):
            return str(Path(run_dir).relative_to(folder.resolve()))
    return run_dir


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
