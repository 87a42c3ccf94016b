"""The `dl-lab` command: thin Typer commands over the session, runs and datasets packages."""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from .params import runtime_param


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, executed when one of its attributes is first read: `dl-lab --help` and the commands
    that do not use it start without what it imports (NumPy, the sessions, Rich's tables)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


commands = lazy_module("dl_lab.cli.commands")
history = lazy_module("dl_lab.cli.history")  # dl-lab runs: without commands' imports (NumPy, the engine)
SORT_HELP = "\0runs --sort"  # stands for the runs table's sort keys until `runs` is used (Command.get_params)


def sort_help() -> str:
    """What `runs --sort` takes: the runs table's own words (sessions/runs/table.py), read when `runs` runs or shows
    its help, so that the other commands do not import the sessions."""
    return SORT_HELP


class _Option(TyperOption):
    get_runtime_param = runtime_param  # text and paths read without Pydantic (cli/params.py)


class _PlainArgument(TyperArgument):
    get_runtime_param = runtime_param


class _Argument(_PlainArgument):
    """An argument shown by its metavar alone (``RUN_DIR...``), without Typer's Python type (``<list[Path]>``)."""

    def display_type_rich(self, ctx):
        return None

    def _rich_display_name(self) -> str:
        return self.metavar

    def _usage_display_name(self) -> str:
        return self.metavar if self.required else f"[{self.metavar}]"


class HelpReadsFalse:
    """A command (or the group) whose --help flag reads False when not given: Typer would build a Pydantic
    validator (an import of 0.1 s) to read None."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and option.default is None:
            option.default = False
        return option


class Command(HelpReadsFalse, TyperCommand):
    """A command whose arguments with a metavar show it, as Click's do."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.short_help and self.help:  # the command list shows the help's first line whole, never cut
            self.short_help = self.help.strip().splitlines()[0]  # with "..." at 45 characters as Click does
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument if param.metavar else _PlainArgument
            elif type(param) is TyperOption:
                param.__class__ = _Option

    def get_params(self, ctx):
        """The parameters, with a help text left for later (``SORT_HELP``) read now: this command runs or shows
        its help."""
        params = super().get_params(ctx)
        for param in params:
            if isinstance(param, TyperOption) and param.help == SORT_HELP:
                from dl_lab.sessions.runs.table import sort_help as table_sort_help

                param.help = table_sort_help()
        return params


class Group(HelpReadsFalse, TyperGroup):
    """The command group (its --help flag reads False when not given)."""


app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    help="dl-lab: build, train and watch neural networks in the terminal.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 200},  # as wide as the terminal
)

SetOpt = Annotated[
    list[str],
    typer.Option(
        "--set", "-s", metavar="KEY=VALUE", help="override a session value, e.g. optimizer.lr=0.03 (repeatable)"
    ),
]
RootOpt = Annotated[
    Path | None, typer.Option("--dir", metavar="DIR", help="folder of runs (default ./runs or $DL_LAB_RUNS)")
]
SessionArg = typer.Argument(metavar="SESSION", help="session file or preset")
DEFAULT_CSV = Path("metrics.csv")
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what the shell reports for a tool whose reader went away (| head)


def command():
    return app.command(cls=Command)


def reports_errors(fn):
    """One clear message and exit status 2 for bad input; no traceback (DL_LAB_DEBUG=1 shows it)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from dl_lab.core.errors import DLLabError  # (the datasets' DataError is one)

        try:
            return fn(*args, **kwargs)
        except DLLabError as exc:
            if os.environ.get("DL_LAB_DEBUG"):
                raise
            print(f"dl-lab: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        except BrokenPipeError:
            quiet_broken_pipe()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None

    return wrapper


def quiet_broken_pipe() -> None:
    """The reader of our output went away (``dl-lab runs | head``): say nothing more, exit quietly.

    Whatever is still buffered for stdout would fail again when Python flushes it at exit, with an "Exception
    ignored" message; pointing stdout at /dev/null lets that flush succeed."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (a test runner's): nothing will be flushed to a closed pipe
        pass


@app.callback(invoke_without_command=True)
def main_callback(ctx: typer.Context):
    """With no command, open the app (in a terminal; elsewhere, show the help)."""
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            commands.tui(None)
        else:
            typer.echo(ctx.get_help())


@command()
@reports_errors
def tui(
    session: Annotated[
        str | None, typer.Argument(metavar="SESSION", help="session file or preset (default: spiral)")
    ] = None,
    overrides: SetOpt = None,
):
    """Open the app: build a network, train it and watch it learn, browse and replay runs."""
    commands.tui(session, overrides or [])


@command()
@reports_errors
def run(
    session: Annotated[
        str | None, typer.Argument(metavar="SESSION", help="session file, or a preset name (dl-lab new --list)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="RUN_DIR", help="run directory (default runs/NAME-TIME)")
    ] = None,
    epochs: Annotated[int | None, typer.Option(metavar="N", help="override training.epochs")] = None,
    backend: Annotated[
        str | None, typer.Option(metavar="NAME", help="numpy, cupy or auto (overrides the session)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar, table or curves")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the run's summary as JSON")] = False,
    resume: Annotated[Path | None, typer.Option(metavar="RUN_DIR", help="continue a run stopped with Ctrl-C")] = None,
    force: Annotated[
        bool, typer.Option(help="with --out: replace the run recorded there (never a folder of other files)")
    ] = False,
    overrides: SetOpt = None,
):
    """Train a session headless and record the run."""
    raise typer.Exit(commands.run(session, out, epochs, backend, quiet, json_out, resume, overrides or [], force))


@command()
@reports_errors
def new(
    preset: Annotated[str, typer.Argument(metavar="PRESET", help="preset to start from")] = "spiral",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="FILE", help="file to write (default PRESET.yaml)")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", "-l", help="list the presets")] = False,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
):
    """Write a new session file from a preset."""
    commands.new(preset, out, list_, force)


@command()
@reports_errors
def validate(session: Annotated[str, SessionArg], overrides: SetOpt = None):
    """Check a session and print its model summary."""
    commands.validate(session, overrides or [])


@command()
@reports_errors
def gradcheck(
    session: Annotated[str, SessionArg],
    batch: Annotated[int, typer.Option(metavar="N", help="samples in the checked batch")] = 4,
    overrides: SetOpt = None,
):
    """Compare back-propagation with float64 finite differences, per parameter tensor."""
    raise typer.Exit(commands.gradcheck(session, batch, overrides or []))


@command()
@reports_errors
def runs(
    run_dirs: Annotated[
        list[Path] | None,
        typer.Argument(metavar="RUN_DIR...", help="with --delete: the run folders to delete"),
    ] = None,
    root: RootOpt = None,
    sort: Annotated[
        str,
        typer.Option(
            metavar="KEY",
            help=sort_help(),
        ),
    ] = "time",
    delete: Annotated[
        bool, typer.Option("--delete", help="delete the RUN_DIRs, or with --older-than the runs under --dir")
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="with --delete: every run under --dir started before DATE (2026-11-30)"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="with --delete: do not ask before deleting")] = False,
):
    """List recorded runs with their final metrics, or delete runs (--delete).

    --delete lists the runs it would delete and asks before it deletes them (--yes: it does not ask); a run that a
    dl-lab process is writing is never deleted, and only folders that dl-lab recorded a run in (with a
    session.yaml) are.
    """
    if delete or run_dirs or older_than is not None:
        raise typer.Exit(history.delete_runs(run_dirs or [], root, older_than, delete=delete, yes=yes))
    history.runs(root, sort)


@command()
@reports_errors
def replay(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a recorded run directory")],
    headless: Annotated[bool, typer.Option(help="print the summary and curves instead of opening the app")] = False,
    svg: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="with --headless: also write curves.svg, confusion.svg and boundary.svg, as the app draws them",
        ),
    ] = None,
):
    """Replay a recorded run (in the app, or --headless in the terminal)."""
    commands.replay(run_dir, headless, svg)


@command()
@reports_errors
def compare(
    run_dirs: Annotated[
        list[Path] | None,
        typer.Argument(metavar="RUN_DIR...", help="run directories to overlay (default: every run under --dir)"),
    ] = None,
    metric: Annotated[str, typer.Option(metavar="NAME", help="epoch metric to overlay")] = "val_loss",
    root: RootOpt = None,
):
    """Overlay several runs' curves (an optimizer race, say) and compare their final metrics."""
    commands.compare(history.runs_or_all(run_dirs, root), metric)


@command()
@reports_errors
def export(
    run_dirs: Annotated[
        list[Path] | None, typer.Argument(metavar="RUN_DIR...", help="run directories (default: every run under --dir)")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", metavar="FILE", help="CSV file to write; - for stdout (default metrics.csv)")
    ] = None,
    force: Annotated[bool, typer.Option(help="replace an existing CSV (or model) file")] = False,
    root: RootOpt = None,
    onnx: Annotated[
        Path | None, typer.Option("--onnx", metavar="FILE", help="one run's model as ONNX (+ FILE.preprocess.json)")
    ] = None,
    torch: Annotated[
        Path | None, typer.Option("--torch", metavar="FILE.py", help="one run's model as PyTorch code")
    ] = None,
    checkpoint: Annotated[
        str | None, typer.Option(metavar="NAME", help="with --onnx/--torch: final (default), last, epoch-N, step-N")
    ] = None,
):
    """Write the epoch metrics of many runs into one CSV file, or one run's model (--onnx, --torch).

    --onnx FILE: an ONNX model (opset 17) whose input is the model's input after the run's preprocessing, recorded
    beside it in FILE.preprocess.json (pip install 'dl-lab[export]'); --torch FILE.py: a PyTorch module file with
    load(npz_path) for the run's checkpoints."""
    if onnx is not None or torch is not None:
        from .export import export_model

        if len(run_dirs or []) != 1 or csv is not None:
            raise typer.BadParameter("--onnx and --torch export one run: dl-lab export RUN_DIR --onnx FILE")
        export_model((run_dirs or [])[0], onnx, torch, checkpoint, force)
        return
    if checkpoint is not None:
        raise typer.BadParameter("--checkpoint goes with --onnx or --torch")
    commands.export(history.runs_or_all(run_dirs, root), csv or DEFAULT_CSV, force)


@command()
@reports_errors
def backprop(
    target: Annotated[
        str, typer.Argument(metavar="SESSION|RUN_DIR", help="a session file, a preset or a recorded run's folder")
    ],
    sample: Annotated[int, typer.Option(metavar="I", help="the training sample to follow")] = 0,
    checkpoint: Annotated[
        str | None, typer.Option(metavar="NAME", help="a run's weights: final (default), initial, epoch-N, step-N")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the steps as a JSON list of {node, formula, inputs, value, ...}")
    ] = False,
    overrides: SetOpt = None,
):
    """Backpropagation one number at a time, for one training sample.

    Forward node by node, backward through every local derivative and chain-rule product to each gradient, then
    one optimizer update (seed 003's example: dl-lab backprop backprop_example)."""
    commands.backprop(target, sample=sample, checkpoint=checkpoint, as_json=as_json, overrides=overrides or ())


@command()
@reports_errors
def inspect(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a recorded run directory")],
    view: Annotated[
        str,
        typer.Argument(metavar="VIEW", help="filters, features, saliency, adversarial, dream, landscape or gradients"),
    ],
    checkpoint: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="final (default), initial, last, epoch-N or step-N (a recorded frame)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the view's numbers as JSON")] = False,
    svg: Annotated[Path | None, typer.Option(metavar="FILE", help="also save the picture as SVG")] = None,
    sample: Annotated[int, typer.Option(metavar="N", help="validation sample (features, saliency)")] = 0,
    cls: Annotated[
        int | None,
        typer.Option("--class", metavar="C", help="saliency: a class besides the predicted one; dream: one class"),
    ] = None,
    eps: Annotated[
        str | None,
        typer.Option(
            metavar="LIST",
            help="adversarial: ε values in raw input units, e.g. 0,0.5,1 (default: 0 to 0.3 of the data's range)",
        ),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(metavar="N", help="adversarial: PGD steps (5); dream: ascent steps (100)")
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(metavar="N", help="adversarial: validation samples (all); landscape: samples per loss (256)"),
    ] = None,
    layer: Annotated[int | None, typer.Option(metavar="I", help="dream: a layer whose --channel to maximize")] = None,
    channel: Annotated[int | None, typer.Option(metavar="C", help="dream: that layer's channel (or unit)")] = None,
    mode: Annotated[
        str, typer.Option(metavar="1d|2d", help="landscape: the line from the initial weights, or a plane")
    ] = "2d",
    grid: Annotated[int, typer.Option(metavar="N", help="landscape: points a side (odd, 3 to 101)")] = 21,
    span: Annotated[float, typer.Option(metavar="S", help="landscape: how far along each direction")] = 1.0,
    batch: Annotated[int, typer.Option(metavar="N", help="gradients: training samples in the batch now")] = 64,
    l2: Annotated[float, typer.Option(metavar="L", help="dream: L2 decay of the image")] = 1e-3,
    jitter: Annotated[int, typer.Option(metavar="P", help="dream: random shift, pixels a step")] = 1,
    blur: Annotated[float, typer.Option(metavar="S", help="dream: Gaussian blur sigma, pixels (0: none)")] = 0.0,
    directions: Annotated[
        str, typer.Option(metavar="random|pca", help="landscape: filter-normalized random, or the path's PCA")
    ] = "random",
):
    """Look inside a trained network: filters, feature maps, saliency, adversarial examples, dreams, the loss
    landscape and the gradients per layer."""
    commands.inspect(
        run_dir,
        view,
        checkpoint=checkpoint,
        as_json=as_json,
        svg=svg,
        sample=sample,
        cls=cls,
        eps=eps,
        steps=steps,
        samples=samples,
        layer=layer,
        channel=channel,
        mode=mode,
        grid=grid,
        span=span,
        batch=batch,
        l2=l2,
        jitter=jitter,
        blur=blur,
        directions=directions,
    )


@command()
@reports_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a recorded run directory")],
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="a CSV file of the run's input columns (matched by name; a target column is ignored), or the "
            "run's dataset name for its validation split",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="OUT.csv", help="write the CSV here (default: stdout)")
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="final (default), initial, last, epoch-N or step-N (a recorded frame)"),
    ] = None,
):
    """A trained run's predictions: one CSV row per input, the prediction and a probability per class (p_CLASS).

    The inputs go through the run's recorded features, normalization and PCA, as in training."""
    from .predict import predict_command

    predict_command(run_dir, data, out, checkpoint)


@command()
@reports_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a recorded run directory")],
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA", help="a CSV file with the run's input and target columns (default: the validation split)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
    checkpoint: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="final (default), initial, last, epoch-N or step-N (a recorded frame)"),
    ] = None,
):
    """A trained run's metrics: loss, accuracy, the confusion matrix with precision and recall (or R² and MAE).

    On the run's validation split, or on DATA: a CSV file of its input columns and its target column (data.target
    for a csv dataset, else target)."""
    from .predict import evaluate_command

    evaluate_command(run_dir, data, as_json, checkpoint)


@command()
@reports_errors
def sweep(
    target: Annotated[
        str,
        typer.Argument(
            metavar="SWEEP_FILE|status|worker",
            help="a sweep file to run; status to list a sweep's trials; worker to join a sweep on a database",
        ),
    ],
    folder: Annotated[
        str | None,
        typer.Argument(metavar="SWEEP_DIR", help="with status: the sweep folder (or the study's name with --storage)"),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(metavar="N", help="stop when the study has N trials (overrides trials:)")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(metavar="K", help="worker processes (default: cores, 4 at most)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="DIR", help="the sweep folder (default sweeps/NAME)")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(metavar="S", help="ask no new trial after S seconds (overrides timeout_s:)")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="a database for the study, e.g. postgresql://... (default: the journal file in the sweep folder)",
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option(metavar="NAME", help="worker: the study to join (the sweep file's name)")
    ] = None,
    heartbeat: Annotated[
        float,
        typer.Option(
            metavar="S",
            help="with --storage: seconds between a trial's heartbeats; a trial silent for 3 beats is retried",
        ),
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="status: print the trials and the best as JSON")] = False,
):
    """Search hyperparameters on Optuna: each trial a recorded run in SWEEP_DIR/trials/.

    dl-lab sweep SWEEP_FILE runs the sweep with K worker processes (run it again to resume the study);
    dl-lab sweep status SWEEP_DIR lists its trials, their states, values and run folders, and the best;
    dl-lab sweep worker --storage URL --study NAME joins a sweep on a database from any machine."""
    from . import sweep as sweeps

    if target == "status":
        if folder is None:
            raise typer.BadParameter("status needs the sweep folder: dl-lab sweep status SWEEP_DIR")
        sweeps.status(folder, storage, as_json)
        return
    if folder is not None:
        raise typer.BadParameter(f"{folder}: unexpected; dl-lab sweep SWEEP_FILE, or dl-lab sweep status SWEEP_DIR")
    if target == "worker":
        raise typer.Exit(sweeps.worker(study, storage, trials, workers, out, timeout, heartbeat))
    if study is not None:
        raise typer.BadParameter("--study goes with dl-lab sweep worker (a sweep file names its study)")
    raise typer.Exit(sweeps.sweep(Path(target), trials, workers, out, timeout, storage, heartbeat))


@command()
@reports_errors
def datasets(
    name: Annotated[
        str | None, typer.Argument(metavar="DATASET", help="one dataset: its description (with --pca, a picture)")
    ] = None,
    pca: Annotated[
        bool, typer.Option("--pca", help="the first two principal components of DATASET's training split, by class")
    ] = False,
    options: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", metavar="KEY=VALUE", help="a data option for --pca, e.g. normalize=standard (repeatable)"
        ),
    ] = None,
):
    """List every dataset: task, shape, classes, size and whether it works offline.

    With a DATASET and --pca: a scatter of its training rows on their first two principal components (PCA fitted on
    the training split, after the dataset's normalization), coloured by class, and the share of the variance each
    explains. The coordinates depend on the normalization and the split: --set normalize=standard --set seed=7 draws
    what the app's data pane (P) shows for a session with those data options (the digits presets)."""
    commands.datasets(name, pca=pca, options=options or [])


def main() -> None:
    app()


if __name__ == "__main__":
    main()
