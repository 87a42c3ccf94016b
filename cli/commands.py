"""What each `dl-lab` command does, as plain functions (the Typer layer only parses arguments)."""

from __future__ import annotations

import csv as csvlib
import shutil
import sys
from pathlib import Path

import numpy as np
from rich.table import Table
from rich.text import Text

from dl_lab.sessions import (
    PRESETS,
    SessionError,
    default_session,
    load_session,
    open_run,
    preset_path,
    preset_session,
)
from dl_lab.sessions.runs.directory import RunDirError

from .render import console, curves, fmt, model_table, print_listing, run_curves, summary_table


def resolve_session(name_or_path: str | None, overrides=()):
    """A session from a file path, else from a preset of that name, else the default session."""
    if name_or_path is None:
        return default_session(overrides)
    path = Path(name_or_path)
    # a folder that happens to bear a preset's name (a run directory `adaline/`) does not hide the preset
    shadowed = path.is_dir() and name_or_path in PRESETS
    if not shadowed and (path.exists() or path.suffix in (".yaml", ".yml") or "/" in name_or_path):
        return load_session(path, overrides)
    if name_or_path in PRESETS:
        return preset_session(name_or_path, overrides)
    raise SessionError(f"{name_or_path}: no such session file or preset (presets: {', '.join(PRESETS)})")


def run(session, out, epochs, backend, quiet, as_json, resume, overrides, force=False) -> int:
    from .runner import EXIT_HANGUP, EXIT_INTERRUPTED, prepare, report, train

    if resume is not None and (session is not None or overrides or epochs is not None):
        raise SessionError(
            "run --resume: the run continues with its recorded session; give no session, --set or --epochs with it"
        )
    if resume is not None and (out is not None or force):
        raise SessionError("run --resume: the run continues in its own folder; give no --out or --force with it")
    overrides = list(overrides) + ([f"training.epochs={epochs}"] if epochs is not None else [])
    lock = None
    try:
        spec = None if resume is not None else resolve_session(session, overrides)
        trainer, run_dir, lock = prepare(spec, resume, out, backend, force)
        if not quiet and not as_json:
            console(stderr=True).print(f"dl-lab: training {trainer.config.name} -> {run_dir}", soft_wrap=True)
        status, last = train(trainer, run_dir, resume=resume is not None, quiet=quiet or as_json, lock=lock)
    except KeyboardInterrupt:  # Ctrl-C while the data loads, or a second one before the stop was under way
        print("dl-lab: interrupted; nothing more was recorded", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if lock is not None:
            lock.release()
    try:
        report(run_dir, status, last, quiet=quiet, as_json=as_json)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) or status != EXIT_HANGUP:
            raise
        # the terminal hung up (SIGHUP) and cannot be written to: the run is recorded; its status says the rest
    return status


def new(preset: str, out: Path | None, list_: bool, force: bool) -> None:
    con = console()
    if list_:
        table = Table("preset", "description")
        for name in PRESETS:
            first = preset_path(name).read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
            table.add_row(name, first)
        con.print(table)
        return
    src = preset_path(preset)
    out = out or Path(f"{preset}.yaml")
    if out.exists() and not force:
        raise SessionError(f"{out}: already exists (use --force to overwrite it)")
    shutil.copyfile(src, out)
    con.print(f"wrote {out} (from preset {preset}); train it with: dl-lab run {out}")


def validate(name: str, overrides) -> None:
    from dl_lab.core import Sequential, get_loss, make_optimizer
    from dl_lab.core.errors import DLLabError
    from dl_lab.datasets.pca import flat_input_error
    from dl_lab.datasets.probe import input_shape
    from dl_lab.sessions.training.build import memory_budget

    session = resolve_session(name, overrides)
    config = session.config
    try:
        shape = input_shape(config.data.to_spec(), session.base_dir)  # without downloading
        model = Sequential(
            list(config.model),
            shape,
            dtype=config.dtype,
            seed=config.seed,
            init=config.init,
            loss=get_loss(config.loss),
            memory=memory_budget(config, make_optimizer(config.optimizer.to_spec())),
        )
    except DLLabError as exc:
        raise session.located(flat_input_error(config.data.options, exc)) from None
    con = console()
    con.print(model_table(model, title=f"{config.name}: {config.data.dataset} -> {config.loss}"))
    if model.memory is not None:
        con.print(model.memory.line(), soft_wrap=True)
        for warning in model.memory.warnings:
            con.print(f"[yellow]warning[/]: {warning}", soft_wrap=True)
    con.print(f"[green]ok[/]: {session.source or name} is a valid session")


def gradcheck(name: str, batch: int, overrides) -> int:
    from dl_lab.core.gradcheck import gradcheck as check
    from dl_lab.sessions import Trainer

    session = resolve_session(name, [*overrides, "dtype=float64", "backend=numpy", "monitor.every_steps=0"])
    trainer = Trainer(session)
    x, y = next(trainer.dataset.batches("train", batch))
    # Step off the kinks: with zero biases, an input of exactly 0 puts ReLU units at their corner, where a
    # finite difference straddles two slopes (the gate sets' (0, 0) point does this).
    x = x + np.random.default_rng(0).normal(0.0, 1e-3, size=x.shape)
    errors = check(trainer.model, trainer.loss, x, np.asarray(y), check_input=False)
    table = Table("parameter", "relative error", "result", title="gradient check (float64 central differences)")
    worst = 0.0
    for key, err in errors.items():
        ok = err < 1e-6
        worst = max(worst, err)
        table.add_row(key, f"{err:.2e}", "[green]ok[/]" if ok else "[red]MISMATCH[/]")
    con = console()
    con.print(table)
    ok = all(err < 1e-6 for err in errors.values())  # a NaN error is no match either
    con.print(
        f"gradcheck: {len(errors)} tensors, worst relative error {worst:.2e}: "
        + ("[green]ok[/]" if ok else "[red]FAILED[/]"),
        soft_wrap=True,
    )
    return 0 if ok else 1


def tui(name: str | None, overrides=()) -> None:
    from dl_lab.tui import run_app

    run_app(session=resolve_session(name, overrides) if name or overrides else None)


def replay(run_dir: Path, headless: bool, svg: Path | None = None) -> None:
    """The app replaying ``run_dir``, or (``headless``) its summary and curves printed; with ``svg``, also the replay's
    curves, confusion matrix (classification) and decision boundary (2-D data) as SVG files in that folder."""
    run = open_run(run_dir)
    if svg is not None:
        if not headless:
            raise RunDirError(f"--svg {svg}: goes with --headless (dl-lab replay RUN_DIR --headless --svg DIR)")
        _check_svg_dir(svg)
    if not headless:
        try:
            from dl_lab.tui import open_replay
        except ImportError:
            open_replay = None
        if open_replay is not None:
            open_replay(run_dir)
            return
    con = console()
    con.print(f"run: {run_dir}", soft_wrap=True)  # one line, whatever the width: paths are copied
    con.print(summary_table(run.final(), run.summary, title=run.name, state=run.state))
    events = run.records
    snaps = sum(1 for r in events if r.get("event") == "snapshot")
    con.print(f"{len(run.epochs())} epochs, {snaps} snapshots recorded")
    from .runner import diagnosis_text, recorded_diagnoses

    for found in recorded_diagnoses(events):  # what the health watch found, as `dl-lab run` told it
        con.print(diagnosis_text(found, prefix=""), soft_wrap=True)
    for chart in run_curves(run.epochs(), width=min(con.width, 100) - 1):
        con.print(Text.from_ansi(chart), no_wrap=True, crop=False)
    if svg is not None:
        from dl_lab.tui.pictures import replay_pictures, save  # the app's panes, drawn off screen

        pictures = replay_pictures(run_dir)
        try:
            written = save([pictures[k] for k in SVG_FILES if k in pictures], svg, "", stamp="")
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise RunDirError(f"--svg {svg}: cannot write the pictures ({reason})") from None
        for path in written:
            con.print(f"saved {path}", soft_wrap=True)


SVG_FILES = ("curves", "confusion", "boundary")  # replay --svg DIR: DIR/curves.svg, ... (those the run has)


def _check_svg_dir(out: Path) -> None:
    """Make ``out`` (a folder for the pictures) and check that it takes files, before anything is printed."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--svg {out}: not a folder; give a folder for curves.svg, confusion.svg, boundary.svg")
    if (out / "session.yaml").exists():
        raise RunDirError(f"--svg {out}: a run's folder; a run's files are never written over (try {out}/pictures)")
    probe = out / ".dl-lab-svg-probe"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"--svg {out}: cannot write there ({(exc.strerror or str(exc)).lower()})") from None


def open_runs(run_dirs: list[Path]) -> list:
    """Every run of ``run_dirs``; one RunDirError naming each one that cannot be read (and its file), if any."""
    runs_, errors = [], []
    for p in run_dirs:
        try:
            runs_.append(open_run(p))
        except RunDirError as exc:
            errors.append(str(exc))
    if len(errors) == 1 and len(run_dirs) == 1:
        raise RunDirError(errors[0])
    if errors:
        which = "1 run" if len(errors) == 1 else f"{len(errors)} runs"
        raise RunDirError(f"{which} of {len(run_dirs)} cannot be read: {'; '.join(errors)}")
    return runs_


def compare(run_dirs: list[Path], metric: str) -> None:
    runs_ = open_runs(run_dirs)
    # Each run by its id (the folder's name), whole; by its path when two folders share a name.
    ids = [r.path.name for r in runs_]
    labels = ids if len(set(ids)) == len(ids) else [str(r.path) for r in runs_]
    series = {}
    for r, label in zip(runs_, labels, strict=True):
        eps = r.epochs()
        if eps and metric not in eps[-1]:
            raise RunDirError(f"{r.path}: no metric {metric!r} in its epochs (try val_loss, val_acc, train_loss)")
        values = [e.get(metric) for e in eps]
        if any(not (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))) for v in values):
            raise RunDirError(f"{r.path}: {metric!r} is not a number in its epochs (try val_loss, val_acc, train_loss)")
        series[label] = ([e["epoch"] for e in eps], values)
    con = console()
    chart = curves(series, f"{metric} by run", metric, width=min(con.width, 110) - 1, height=20)
    con.print(Text.from_ansi(chart), no_wrap=True)
    rows = []
    for r, label in zip(runs_, labels, strict=True):
        f = r.final()
        opt = r.session.get("optimizer") or {}
        opt = {"name": opt} if isinstance(opt, str) else opt  # `optimizer: adam` names it alone
        rows.append(
            [
                label,
                f"{opt.get('name', '-')} lr={opt.get('lr', '-')}",
                r.state,
                fmt(f.get("epoch")),
                fmt(f.get("train_loss")),
                fmt(f.get("val_loss")),
                r.quality_text(),
            ]
        )
    headers = ["run", "optimizer", "status", "epochs", "train loss", "val loss", "val acc/R²"]
    print_listing(
        con,
        headers,
        rows,
        drop_order=("status", "train loss", "epochs"),
        numeric=("epochs", "train loss", "val loss", "val acc/R²"),
        breakable=("optimizer", "status"),
    )


def _scalar(value) -> bool:
    return value is None or isinstance(value, (int, float, str))


def export(run_dirs: list[Path], out: Path, force: bool = False) -> None:
    """One CSV row per epoch of each run: its scalar metrics. Per-class values (the confusion matrix, precision
    and recall per class, sample predictions) stay in metrics.jsonl; a column no run has a value for is left out.
    An existing file is replaced only with ``force``, and never a file inside a run's folder."""
    if str(out) != "-":
        _check_csv_out(out, run_dirs, force)
    rows, keys = [], ["run", "name"]
    for p, r in zip(run_dirs, open_runs(run_dirs), strict=True):  # every run read before any file is written
        for e in r.epochs():
            row = {"run": str(p), "name": r.name}
            row.update({k: v for k, v in e.items() if k != "event" and _scalar(v)})
            keys += [k for k in row if k not in keys]
            rows.append(row)
    keys = [k for k in keys if any(row.get(k) is not None for row in rows)] or ["run", "name"]
    if str(out) == "-":
        writer = csvlib.DictWriter(sys.stdout, fieldnames=keys, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return
    from dl_lab.sessions.runs.files import replacing

    try:
        with replacing(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csvlib.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    except RunDirError as exc:
        reason = str(exc).rsplit(": ", 1)[-1].lower()
        reason = "no such folder" if not out.parent.is_dir() else reason
        raise RunDirError(f"--csv {out}: cannot write the file ({reason})") from None
    console().print(f"wrote {len(rows)} epoch rows of {len(run_dirs)} runs to {out}", soft_wrap=True)


def _check_csv_out(out: Path, run_dirs: list[Path], force: bool) -> None:
    folder = out.resolve().parent
    in_run = (folder / "session.yaml").exists() or any(
        folder == Path(p).resolve() or Path(p).resolve() in folder.parents for p in run_dirs
    )
    if in_run:
        raise RunDirError(f"--csv {out}: inside a run's folder; a run's files are never written over, choose another")
    if out.is_dir():
        raise RunDirError(f"--csv {out}: cannot write the file (is a directory)")
    if (out.exists() or out.is_symlink()) and not force:
        raise RunDirError(f"--csv {out}: already exists (use --force to replace it)")


def datasets(name: str | None = None, *, pca: bool = False, options=()) -> None:
    from dl_lab.datasets import list_datasets

    if name is not None or pca or options:
        dataset_pca(name, pca, options)
        return
    table = Table()
    table.add_column("dataset (description)", ratio=1)
    for name in ("task", "shape", "classes", "size", "offline"):
        table.add_column(name, no_wrap=True, justify="right" if name in ("classes", "size") else "left")
    for row in list_datasets():
        shape = "x".join(map(str, row.input_shape)) if row.input_shape else "from file"
        size = f"{row.size:,}" if row.size else "-"
        table.add_row(
            f"[b]{row.name}[/b]\n[dim]{row.description}[/dim]",
            row.task,
            shape,
            fmt(row.classes),
            size,
            "yes" if row.offline else "download",
        )
    console().print(table)


def dataset_pca(name: str | None, pca: bool, options=()) -> None:
    """``dl-lab datasets NAME [--pca] [--set KEY=VALUE]``: the dataset's line, and with --pca its PCA preview
    (datasets/pca.py) of the dataset loaded with those data options (its defaults otherwise)."""
    from dl_lab.datasets import DataError, load
    from dl_lab.datasets.pca import preview
    from dl_lab.datasets.registry import lookup
    from dl_lab.sessions.config.session import apply_overrides

    from .render import pca_scatter

    if name is None:
        raise DataError("--pca: name a dataset, e.g. dl-lab datasets digits --pca (dl-lab datasets lists them)")
    info = lookup(name)
    con = console()
    con.print(f"[b]{info.name}[/b]: {info.description} ({info.task})")
    if not pca:
        if options:
            raise DataError("--set: data options are for --pca, e.g. dl-lab datasets digits --pca --set normalize=none")
        con.print(f"[dim]its first two principal components: dl-lab datasets {info.name} --pca[/dim]")
        return
    chosen = apply_overrides({}, options)
    nested = [key for key, value in chosen.items() if isinstance(value, (dict, list))]
    if nested:
        raise DataError(f"--set {nested[0]}: a data option is one key, e.g. --set normalize=standard")
    dataset = load(info.name, **chosen)
    view = preview(dataset)
    width = max(40, min(con.width, 100) - 1)
    from dl_lab.tui.widgets.palette import CLASS_PALETTE  # the app's colours and ticks, so both pictures agree
    from dl_lab.tui.widgets.ticks import compact

    title = f"{info.name}: PC1 against PC2 of the training split"
    chart = pca_scatter(view, title, width, max(15, width // 3), palette=CLASS_PALETTE, tick=compact)
    con.print(Text.from_ansi(chart), no_wrap=True, crop=False)
    con.print(view.line, markup=False)
    used = ", ".join(f"{key} {dataset.options[key]}" for key in ("normalize", "seed") if key in dataset.options)
    con.print(f"[dim]data: {used} (the PC coordinates depend on them: --set KEY=VALUE)[/dim]")


def backprop(
    target: str, *, sample: int = 0, checkpoint: str | None = None, as_json: bool = False, overrides=()
) -> None:
    """One training sample through the network: forward node by node, backward to every gradient, one update
    (sessions/inspect/backprop.py). ``target`` is a session file, a preset or a recorded run's folder (its
    ``checkpoint``, final by default)."""
    import json

    from dl_lab.sessions.inspect.backprop import walk

    path = Path(target)
    if path.is_dir() and (path / "session.yaml").is_file():
        if overrides:
            raise SessionError("backprop RUN_DIR: a recorded run keeps its session; give no --set with it")
        from dl_lab.sessions.inspect.common import open_inspected

        inspected = open_inspected(path, checkpoint)
        session, model, dataset = inspected.session, inspected.model, inspected.dataset
    else:
        if checkpoint is not None:
            raise SessionError("backprop --checkpoint: only with a recorded run's folder")
        from dl_lab.sessions.training.build import build

        session = resolve_session(target, overrides)
        built = build(session, backend="numpy")
        session, model, dataset = session, built.model, built.dataset
    result = walk(session, model, dataset, sample).to_dict()
    if as_json:  # the steps, a list of {phase, node, formula, numbers, inputs, value, layer, unit, what}
        print(json.dumps(result["steps"], ensure_ascii=False))
        return
    from dl_lab.tui.backprop_render import render

    con = console()
    con.print(render(result, width=max(60, min(con.width, 160))))


def inspect(
    run_dir: Path,
    view: str,
    *,
    checkpoint: str | None = None,
    as_json: bool = False,
    svg: Path | None = None,
    eps: str | None = None,
    **options,
) -> None:
    """One view of a recorded run's model (sessions/inspect/): drawn in the terminal, or its numbers as JSON.
    ``eps`` is the command line's list ("0,0.5,1"); ``options`` are views.compute's."""
    import json

    from dl_lab.sessions.inspect.common import InspectError, open_inspected
    from dl_lab.sessions.inspect.views import VIEWS, compute

    if view not in VIEWS:
        raise InspectError(f"VIEW {view!r}: expected one of {', '.join(VIEWS)}")
    if svg is not None and svg.exists() and svg.is_dir():
        raise InspectError(f"--svg {svg}: a folder; give a file name")
    sweep = None
    if eps is not None:
        try:
            sweep = [float(part) for part in eps.split(",") if part.strip()]
        except ValueError:
            raise InspectError(f"--eps {eps!r}: expected numbers separated by commas, e.g. 0,0.1,0.2") from None
    data = compute(view, open_inspected(run_dir, checkpoint), eps=sweep, **options)
    if as_json:
        print(json.dumps(data))
        return
    from dl_lab.tui.inspect_render import render  # the app's pictures, in the terminal (rich and plotext only)

    con = console(record=svg is not None)
    for part in render(data, width=con.width):
        con.print(part, no_wrap=True, crop=False)
    if svg is not None:
        try:
            svg.write_text(con.export_svg(title=f"dl-lab inspect {view}"), encoding="utf-8")
        except OSError as exc:
            raise InspectError(f"--svg {svg}: cannot write it ({exc.strerror or exc})") from None
        con.print(f"saved {svg}", soft_wrap=True)
