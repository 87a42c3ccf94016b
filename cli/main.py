"""The `dl-lab` command: thin Typer commands over the session, runs and datasets packages."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import commands

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    help="dl-lab: build, train and watch neural networks in the terminal.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

SetOpt = Annotated[list[str], typer.Option("--set", "-s", help="override a session value: key.path=value")]


def reports_errors(fn):
    """One clear message and exit status 2 for bad input; no traceback (DL_LAB_DEBUG=1 shows it)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from dl_lab.core.errors import DLLabError
        from dl_lab.datasets import DataError

        try:
            return fn(*args, **kwargs)
        except (DLLabError, DataError) as exc:
            if os.environ.get("DL_LAB_DEBUG"):
                raise
            print(f"dl-lab: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper


@app.callback(invoke_without_command=True)
def main_callback(ctx: typer.Context):
    """With no command, open the app (in a terminal; elsewhere, show the help)."""
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            commands.tui(None)
        else:
            typer.echo(ctx.get_help())


@app.command()
@reports_errors
def tui(session: Annotated[str | None, typer.Argument(help="session file or preset (default: spiral)")] = None):
    """Open the app: build a network, train it and watch it learn, browse and replay runs."""
    commands.tui(session)


@app.command()
@reports_errors
def run(
    session: Annotated[str | None, typer.Argument(help="session file, or a preset name (dl-lab new --list)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="run directory (default runs/NAME-TIME)")] = None,
    epochs: Annotated[int | None, typer.Option(help="override training.epochs")] = None,
    backend: Annotated[str | None, typer.Option(help="numpy, cupy or auto (overrides the session)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar, table or curves")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the run's summary as JSON")] = False,
    resume: Annotated[Path | None, typer.Option(help="continue an interrupted run directory")] = None,
    overrides: SetOpt = None,
):
    """Train a session headless and record the run."""
    raise typer.Exit(commands.run(session, out, epochs, backend, quiet, json_out, resume, overrides or []))


@app.command()
@reports_errors
def new(
    preset: Annotated[str, typer.Argument(help="preset to start from")] = "spiral",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file to write (default PRESET.yaml)")] = None,
    list_: Annotated[bool, typer.Option("--list", "-l", help="list the presets")] = False,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
):
    """Write a new session file from a preset."""
    commands.new(preset, out, list_, force)


@app.command()
@reports_errors
def validate(session: Annotated[str, typer.Argument(help="session file or preset")], overrides: SetOpt = None):
    """Check a session and print its model summary."""
    commands.validate(session, overrides or [])


@app.command()
@reports_errors
def gradcheck(
    session: Annotated[str, typer.Argument(help="session file or preset")],
    batch: Annotated[int, typer.Option(help="samples in the checked batch")] = 4,
    overrides: SetOpt = None,
):
    """Compare back-propagation with float64 finite differences, per parameter tensor."""
    raise typer.Exit(commands.gradcheck(session, batch, overrides or []))


@app.command()
@reports_errors
def runs(
    root: Annotated[Path | None, typer.Option("--dir", help="folder of runs (default ./runs or $DL_LAB_RUNS)")] = None,
    sort: Annotated[str, typer.Option(help="sort by a final metric, e.g. val_acc, val_loss, time")] = "time",
):
    """List recorded runs with their final metrics."""
    commands.runs(root, sort)


@app.command()
@reports_errors
def replay(
    run_dir: Annotated[Path, typer.Argument(help="a recorded run directory")],
    headless: Annotated[bool, typer.Option(help="print the summary and curves instead of opening the app")] = False,
):
    """Replay a recorded run (in the app, or --headless in the terminal)."""
    commands.replay(run_dir, headless)


@app.command()
@reports_errors
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="run directories to overlay")],
    metric: Annotated[str, typer.Option(help="epoch metric to overlay")] = "val_loss",
):
    """Overlay several runs' curves (an optimizer race, say) and compare their final metrics."""
    commands.compare(run_dirs, metric)


@app.command()
@reports_errors
def export(
    run_dirs: Annotated[list[Path], typer.Argument(help="run directories")],
    csv: Annotated[Path, typer.Option("--csv", help="the CSV file to write")] = Path("metrics.csv"),
):
    """Write the epoch metrics of many runs into one CSV file."""
    commands.export(run_dirs, csv)


@app.command()
@reports_errors
def datasets():
    """List every dataset: task, shape, classes, size and whether it works offline."""
    commands.datasets()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
