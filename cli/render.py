"""Terminal output for the CLI: tables with Rich and curves with plotext."""

from __future__ import annotations

import math

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from dl_lab.sessions.formatting import count, human
from dl_lab.sessions.formatting import fixed as fmt  # numbers as the app writes them too
from dl_lab.sessions.runs.directory import STATE_WORDS


def model_table(model, title: str = "model") -> Table:
    table = Table(title=title, title_justify="left")
    for col, justify in (
        ("#", "right"),
        ("layer", "left"),
        ("output shape", "left"),
        ("parameters", "right"),
        ("FLOPs/sample", "right"),
    ):
        table.add_column(col, justify=justify)
    for row in model.summary():
        layer = row["layer"]
        indent = "  " * row["depth"]
        act = getattr(layer, "cfg", {}).get("activation")
        desc = f"{indent}{row['kind']}" + (f" ({act})" if act and act != "identity" else "")
        table.add_row(row["index"], desc, str(tuple(row["output_shape"])), f"{row['params']:,}", human(row["flops"]))
    table.add_row("", "[b]total[/b]", "", f"[b]{model.param_count:,}[/b]", f"[b]{human(model.flops)}[/b]")
    return table


def summary_table(final: dict, summary: dict, title: str = "result", state: str | None = None) -> Table:
    """A run's result; its status in the words run lists use (``state``: Run.state, else summary.json's word
    through STATE_WORDS: "stopped", never the recorded "cancelled")."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    status = summary.get("status")
    table.add_row("status", state or (STATE_WORDS.get(status, status) if isinstance(status, str) else "-"))
    table.add_row("epochs", str(summary.get("epochs_done", final.get("epoch", "-"))))
    for key in ("train_loss", "val_loss", "train_acc", "val_acc", "train_mae", "val_mae", "train_r2", "val_r2"):
        if final.get(key) is not None:
            table.add_row(key, fmt(final[key]))
    if summary.get("train_samples_per_s"):
        table.add_row("train samples/s", count(summary["train_samples_per_s"]))
    if summary.get("wall_time") is not None:
        table.add_row("wall time", f"{summary['wall_time']:.1f} s")
    return table


def curves(series: dict[str, tuple[list, list]], title: str, ylabel: str, width: int = 80, height: int = 15) -> str:
    """A plotext line chart of named (x, y) series, as text."""
    import plotext as plt

    plt.clf()
    plt.plotsize(width, height)
    plt.theme("clear")
    epochs: set[int] = set()
    for label, (xs, ys) in series.items():
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None and math.isfinite(y)]
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label=label, marker="braille")
            epochs.update(int(p[0]) for p in pts)
    if epochs:
        plt.xticks(epoch_ticks(min(epochs), max(epochs), max(2, width // 12)))
    plt.title(title)
    plt.xlabel("epoch")
    plt.ylabel(ylabel)
    return plt.build()


def pca_scatter(view, title: str, width: int = 80, height: int = 24, *, palette, tick) -> str:
    """A plotext scatter of a PCA preview (datasets/pca.Preview): PC1 across, PC2 up, in the app's class colours
    (a regression's rows in one colour), over the same square box around 0 as the app's (``view.bounds``), and
    the colour key on a line below the plot (plotext's own legend would cover the points). ``palette`` (the
    app's class colours, RGB) and ``tick`` (its tick labels) come from the app through cli/commands.py."""
    import numpy as np  # (here: listing runs, which prints with this module, never needs it)
    import plotext as plt

    plt.clf()
    plt.plotsize(width, height)
    plt.theme("clear")
    x, y = view.points[:, 0], view.points[:, 1]
    key: list[tuple[str, tuple[int, int, int]]] = []
    if view.regression:
        plt.scatter(x.tolist(), y.tolist(), marker="braille", color=palette[1])
        key.append(("training rows", palette[1]))
    else:
        labels = np.asarray(view.labels).astype(np.int64)
        names = view.class_names or []
        for c in np.unique(labels):
            rows = labels == c
            color = palette[int(c) % len(palette)]
            plt.scatter(x[rows].tolist(), y[rows].tolist(), marker="braille", color=color)
            key.append((names[c] if c < len(names) else str(c), color))
    x0, x1, y0, y1 = view.bounds
    for set_lim, set_ticks, lo, hi in ((plt.xlim, plt.xticks, x0, x1), (plt.ylim, plt.yticks, y0, y1)):
        ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
        set_lim(lo, hi)
        set_ticks(ticks, [tick(t) for t in ticks])  # labelled as the app labels its box
    plt.title(title)
    plt.xlabel(f"PC1 ({100 * view.ratio[0]:.1f}%)")
    plt.ylabel(f"PC2 ({100 * view.ratio[1]:.1f}%)")
    lines, line, used = [], "", 0
    for name, (r, g, b) in key:
        if used and used + len(name) + 2 > width:
            lines.append(line)
            line, used = "", 0
        line += f"\x1b[38;2;{r};{g};{b}m●\x1b[0m {name}  "
        used += len(name) + 4
    return plt.build() + "\n" + "\n".join([*lines, line]).rstrip()


def slice_plot(points: list[tuple[object, float]], name: str, metric: str, kind: str, width: int = 80) -> str:
    """A plotext scatter of a sweep's metric against one parameter (Optuna's slice plot, as text): ``kind`` is
    "log" (a log axis), "linear", or "choice" (each choice at its own place on the axis, labelled by its value;
    numbers in their order, words as they first appear)."""
    import plotext as plt

    plt.clf()
    plt.plotsize(width, 12)
    plt.theme("clear")
    ys = [float(y) for _, y in points]
    if kind == "choice":
        seen = list(dict.fromkeys(x for x, _ in points))
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in seen):
            seen.sort()  # numbers in their order: 8 before 16
        labels = [str(x) for x in seen]
        xs = [float(labels.index(str(x))) for x, _ in points]
        plt.xticks(list(range(len(labels))), labels)
        plt.xlim(-0.5, len(labels) - 0.5)
    else:
        xs = [float(x) for x, _ in points]  # type: ignore[arg-type]
        if kind == "log":
            plt.xscale("log")
    plt.scatter(xs, ys, marker="●")
    plt.title(f"{metric} against {name}")
    plt.xlabel(name)
    return plt.build()


def epoch_ticks(first: int, last: int, most: int = 6) -> list[int]:
    """Whole epoch numbers for a chart's x axis: at most ``most`` of them, evenly spaced, ``first`` and
    ``last`` among them (epochs are counted, never 15.8)."""
    if last <= first:
        return [first]
    step = max(1, math.ceil((last - first) / max(1, most - 1)))
    ticks = list(range(first, last + 1, step))
    if ticks[-1] != last:
        if last - ticks[-1] < step / 2 and len(ticks) > 1:
            ticks[-1] = last  # too close to the one before: replace it
        else:
            ticks.append(last)
    return ticks


def run_curves(epochs: list[dict], width: int = 80) -> list[str]:
    """Loss curves, then accuracy (classification) or R^2 (regression) curves, of one run's epoch records."""
    if not epochs:
        return []
    xs = [e["epoch"] for e in epochs]
    charts = [
        curves(
            {"train": (xs, [e.get("train_loss") for e in epochs]), "val": (xs, [e.get("val_loss") for e in epochs])},
            "loss",
            "loss",
            width,
        )
    ]
    key = "acc" if epochs[-1].get("val_acc") is not None else "r2"
    label = "accuracy" if key == "acc" else "R^2"
    charts.append(
        curves(
            {
                "train": (xs, [e.get(f"train_{key}") for e in epochs]),
                "val": (xs, [e.get(f"val_{key}") for e in epochs]),
            },
            label,
            label,
            width,
        )
    )
    return charts


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Our reader went away (``| head``): Rich would exit with status 1; the command's error handling
        decides instead (cli.main.reports_errors: quietly, status 141)."""
        self.quiet = True
        raise BrokenPipeError


def boost_table(rounds: list[dict], most: int = 12) -> Table:
    """A boosted run's rounds (metrics.jsonl's ``boost`` records): each perceptron's weighted error and vote, and the
    combined classifier's accuracy after it; long runs show ``most`` rounds, evenly spread, the last included."""
    table = Table("round", "ε (weighted error)", "α (vote)", "h alone", "H train", "H val", box=box.SIMPLE_HEAD)
    table.title = f"AdaBoost: {len(rounds)} perceptrons, H = sign(Σ α h)"
    step = max(1, math.ceil(len(rounds) / most))
    shown = rounds[::step] if rounds[-1:] == rounds[::step][-1:] else [*rounds[::step], rounds[-1]]
    percent = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    for r in shown:
        table.add_row(
            str(r.get("round")),
            f"{r.get('epsilon', math.nan):.4f}",
            f"{r.get('alpha', math.nan):+.4f}",
            percent(r.get("learner_acc")),
            percent(r.get("train_acc")),
            percent(r.get("val_acc")),
        )
    return table


def console(stderr: bool = False, **kwargs) -> Console:
    return _Console(stderr=stderr, highlight=False, **kwargs)


def is_tty(con: Console) -> bool:
    """Whether ``con`` writes to a terminal (one with a width), whatever FORCE_COLOR says."""
    isatty = getattr(con.file, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed file
        return False


def print_listing(
    con: Console,
    headers: list[str],
    rows: list[list[str]],
    *,
    keep: int = 1,
    drop_order: tuple[str, ...] = (),
    numeric: tuple[str, ...] = (),
    breakable: tuple[str, ...] = (),
) -> None:
    """A table of runs that never cuts a value short in its first ``keep`` columns (run ids: folder names).

    In a terminal the table fits its width: headers wrap at spaces, values only in the ``breakable`` columns,
    and when that is not enough the columns named in ``drop_order`` are left out, first ones first. Into a pipe
    or a file nothing is wrapped, cut or left out: every value is whole on its row, for grep and friends.
    ``numeric`` columns are right-aligned.
    """
    gap = 3  # box.SIMPLE_HEAD: a padding space, the (blank) column separator, a padding space

    def least(i: int) -> int:
        """The narrowest column i can be without cutting a value (or a header word) in the middle."""
        values = [r[i] for r in rows]
        pieces = [w for v in values for w in v.split()] if headers[i] in breakable and i >= keep else values
        return max([len(w) for w in [*pieces, *headers[i].split()]] or [1])

    def natural(i: int) -> int:
        return max([len(r[i]) for r in rows] + [len(headers[i])])

    tty = is_tty(con)
    shown = list(range(len(headers)))
    if tty:
        for name in drop_order:
            if sum(least(i) for i in shown) + gap * (len(shown) - 1) <= con.width:
                break
            if name in headers and headers.index(name) in shown:
                shown.remove(headers.index(name))
    needed = sum(least(i) for i in shown) + gap * (len(shown) - 1)
    widths = {i: natural(i) for i in shown}
    if tty and needed <= con.width:  # each column as narrow as it may be, then widened left to right
        widths = {i: least(i) for i in shown}
        spare = con.width - needed
        for i in shown:
            more = min(spare, natural(i) - widths[i])
            widths[i] += more
            spare -= more
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i in shown:
        table.add_column(
            headers[i],
            width=widths[i],
            no_wrap=i < keep or not tty,
            overflow="fold",
            justify="right" if headers[i] in numeric else "left",
        )
    # When no value wraps, Rich draws the header alone and the rows are plain lines, the same ones: drawing a
    # thousand rows cell by cell takes Rich seconds.
    plain = all(cell_len(r[i]) <= widths[i] for r in rows for i in shown)
    for r in [] if plain else rows:
        table.add_row(*(r[i] for i in shown))
    out = con
    if not (tty and needed <= con.width):
        # Into a pipe (or a terminal too narrow even so): as wide as the table is, nothing wrapped, cut or elided.
        wide = sum(widths.values()) + gap * (len(shown) - 1)
        out = console(file=con.file, width=max(wide, 20), no_color=con.no_color, force_terminal=con.is_terminal)
    out.print(table)
    if plain and rows:
        lines = ((" " * gap).join(_aligned(r[i], widths[i], headers[i] in numeric) for i in shown) for r in rows)
        out.file.write("".join(f"{line}\n" for line in lines))
        out.file.flush()


def _aligned(text: str, width: int, right: bool) -> str:
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad
