"""What each `dl-lab` command does, as plain functions (the Typer layer only parses arguments)."""

from __future__ import annotations

import csv as csvlib
import shutil
from pathlib import Path

import numpy as np
from rich.table import Table
from rich.text import Text

from dl_lab.session import (
    PRESETS,
    SessionError,
    default_session,
    list_runs,
    load_session,
    open_run,
    preset_path,
    preset_session,
    runs_root,
)
from dl_lab.session.runs import RunDirError

from .render import console, curves, fmt, model_table, run_curves, summary_table


def resolve_session(name_or_path: str | None, overrides=()):
    """A session from a file path, else from a preset of that name, else the default session."""
    if name_or_path is None:
        return default_session(overrides)
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml") or "/" in name_or_path:
        return load_session(path, overrides)
    if name_or_path in PRESETS:
        return preset_session(name_or_path, overrides)
    raise SessionError(f"{name_or_path}: no such session file or preset (presets: {', '.join(PRESETS)})")


def run(session, out, epochs, backend, quiet, as_json, resume, overrides) -> int:
    from .runner import prepare, report, train

    if resume is not None and (session is not None or overrides or epochs is not None):
        raise SessionError("run --resume: the run continues with its recorded session; give no session, "
                           "--set or --epochs with it")  # fmt: skip
    overrides = list(overrides) + ([f"training.epochs={epochs}"] if epochs is not None else [])
    spec = None if resume is not None else resolve_session(session, overrides)
    trainer, run_dir = prepare(spec, resume, out, backend)
    if not quiet and not as_json:
        console(stderr=True).print(f"dl-lab: training {trainer.spec['name']} -> {run_dir}")
    status, last = train(trainer, run_dir, resume=resume is not None, quiet=quiet or as_json)
    report(run_dir, status, last, quiet=quiet, as_json=as_json)
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


def _input_shape(session):
    """The model's input shape without downloading: the registry's when known, else the loaded data's."""
    from dl_lab.datasets.registry import lookup

    data = session.spec["data"]
    info = lookup(data["dataset"])
    if "features" in data:
        return (len(data["features"]),)
    if info.input_shape is not None and not info.offline:
        return info.input_shape
    from dl_lab.session.build import load_dataset

    return load_dataset(session).input_shape


def validate(name: str, overrides) -> None:
    from dl_lab.core import Sequential, get_loss
    from dl_lab.core.errors import DLLabError

    session = resolve_session(name, overrides)
    spec = session.spec
    try:
        model = Sequential(spec["model"], _input_shape(session), dtype=spec["dtype"], seed=spec["seed"],
                           init=spec["init"], loss=get_loss(spec["loss"]))  # fmt: skip
    except DLLabError as exc:
        raise session.located(exc) from None
    con = console()
    con.print(model_table(model, title=f"{spec['name']}: {spec['data']['dataset']} -> {spec['loss']}"))
    con.print(f"[green]ok[/]: {session.source or name} is a valid session")


def gradcheck(name: str, batch: int, overrides) -> int:
    from dl_lab.core import gradcheck as check
    from dl_lab.session import Trainer

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
    console().print(table)
    return 0 if worst < 1e-6 else 1


def _sort_key(metric: str):
    def key(run):
        if metric == "time":
            return -run.path.stat().st_mtime
        value = run.final().get(metric)
        if value is None:
            return float("inf")
        return value if "loss" in metric or "mae" in metric else -value

    return key


def runs(root: Path | None, sort: str) -> None:
    found = list_runs(root)
    con = console()
    if not found:
        con.print(f"no runs in {root or runs_root()}")
        return
    table = Table("run", "status", "epochs", "train loss", "val loss", "val acc/R^2", "samples/s", "dataset")
    for r in sorted(found, key=_sort_key(sort)):
        f = r.final()
        quality = f.get("val_acc", f.get("val_r2"))
        table.add_row(str(r.path), r.status, fmt(f.get("epoch")), fmt(f.get("train_loss")), fmt(f.get("val_loss")),
                      fmt(quality), f"{r.summary.get('train_samples_per_s', 0):,.0f}",
                      str(r.session.get("data", {}).get("dataset", "-")))  # fmt: skip
    con.print(table)


def tui(name: str | None) -> None:
    from dl_lab.tui import run_app

    run_app(session=resolve_session(name) if name else None)


def replay(run_dir: Path, headless: bool) -> None:
    run = open_run(run_dir)
    if not headless:
        try:
            from dl_lab.tui import open_replay
        except ImportError:
            open_replay = None
        if open_replay is not None:
            open_replay(run_dir)
            return
    con = console()
    con.print(summary_table(run.final(), run.summary, title=f"{run.name}  ({run_dir})"))
    events = run.records
    snaps = sum(1 for r in events if r.get("event") == "snapshot")
    con.print(f"{len(run.epochs())} epochs, {snaps} snapshots recorded")
    for chart in run_curves(run.epochs(), width=min(con.width, 100) - 1):
        con.print(Text.from_ansi(chart), no_wrap=True, crop=False)


def compare(run_dirs: list[Path], metric: str) -> None:
    runs_ = [open_run(p) for p in run_dirs]
    series, labels = {}, []
    for r in runs_:
        eps = r.epochs()
        if eps and metric not in eps[-1]:
            raise RunDirError(f"{r.path}: no metric {metric!r} in its epochs (try val_loss, val_acc, train_loss)")
        label = f"{r.name} ({r.path.name})" if len({x.name for x in runs_}) < len(runs_) else r.name
        labels.append(label)
        series[label] = ([e["epoch"] for e in eps], [e.get(metric) for e in eps])
    con = console()
    chart = curves(series, f"{metric} by run", metric, width=min(con.width, 110) - 1, height=20)
    con.print(Text.from_ansi(chart), no_wrap=True)
    table = Table("run", "optimizer", "epochs", "train loss", "val loss", "val acc/R^2")
    for r, label in zip(runs_, labels, strict=True):
        f = r.final()
        opt = r.session.get("optimizer", {})
        quality = fmt(f.get("val_acc", f.get("val_r2")))
        table.add_row(label, f"{opt.get('name', '-')} lr={opt.get('lr', '-')}", fmt(f.get("epoch")),
                      fmt(f.get("train_loss")), fmt(f.get("val_loss")), quality)  # fmt: skip
    con.print(table)


def export(run_dirs: list[Path], out: Path) -> None:
    rows, keys = [], ["run", "name"]
    for p in run_dirs:
        r = open_run(p)
        for e in r.epochs():
            row = {"run": str(p), "name": r.name}
            row.update({k: v for k, v in e.items() if k != "event" and not isinstance(v, (list, dict))})
            keys += [k for k in row if k not in keys]
            rows.append(row)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csvlib.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    console().print(f"wrote {len(rows)} epoch rows of {len(run_dirs)} runs to {out}")


def datasets() -> None:
    from dl_lab.datasets import list_datasets

    table = Table()
    table.add_column("dataset (description)", ratio=1)
    for name in ("task", "shape", "classes", "size", "offline"):
        table.add_column(name, no_wrap=True, justify="right" if name in ("classes", "size") else "left")
    for row in list_datasets():
        shape = "x".join(map(str, row.input_shape)) if row.input_shape else "from file"
        size = f"{row.size:,}" if row.size else "-"
        table.add_row(f"[b]{row.name}[/b]\n[dim]{row.description}[/dim]", row.task, shape, fmt(row.classes), size,
                      "yes" if row.offline else "download")  # fmt: skip
    console().print(table)
