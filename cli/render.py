"""Terminal output for the CLI: tables with Rich and curves with plotext."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.3g}"
    return str(value)


def human(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def model_table(model, title: str = "model") -> Table:
    table = Table(title=title, title_justify="left")
    for col, justify in (("#", "right"), ("layer", "left"), ("output shape", "left"), ("parameters", "right"),
                         ("FLOPs/sample", "right")):  # fmt: skip
        table.add_column(col, justify=justify)
    for row in model.summary():
        layer = row["layer"]
        indent = "  " * row["depth"]
        act = getattr(layer, "cfg", {}).get("activation")
        desc = f"{indent}{row['kind']}" + (f" ({act})" if act and act != "identity" else "")
        table.add_row(row["index"], desc, str(tuple(row["output_shape"])), f"{row['params']:,}", human(row["flops"]))
    table.add_row("", "[b]total[/b]", "", f"[b]{model.param_count:,}[/b]", f"[b]{human(model.flops)}[/b]")
    return table


def summary_table(final: dict, summary: dict, title: str = "result") -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("status", str(summary.get("status", "-")))
    table.add_row("epochs", str(summary.get("epochs_done", final.get("epoch", "-"))))
    for key in ("train_loss", "val_loss", "train_acc", "val_acc", "train_mae", "val_mae", "train_r2", "val_r2"):
        if final.get(key) is not None:
            table.add_row(key, fmt(final[key]))
    if summary.get("train_samples_per_s"):
        table.add_row("train samples/s", f"{summary['train_samples_per_s']:,.0f}")
    if summary.get("wall_time") is not None:
        table.add_row("wall time", f"{summary['wall_time']:.1f} s")
    return table


def curves(series: dict[str, tuple[list, list]], title: str, ylabel: str, width: int = 80, height: int = 15) -> str:
    """A plotext line chart of named (x, y) series, as text."""
    import plotext as plt

    plt.clf()
    plt.plotsize(width, height)
    plt.theme("clear")
    for label, (xs, ys) in series.items():
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None and math.isfinite(y)]
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label=label, marker="braille")
    plt.title(title)
    plt.xlabel("epoch")
    plt.ylabel(ylabel)
    return plt.build()


def run_curves(epochs: list[dict], width: int = 80) -> list[str]:
    """Loss curves, then accuracy (classification) or R^2 (regression) curves, of one run's epoch records."""
    if not epochs:
        return []
    xs = [e["epoch"] for e in epochs]
    charts = [curves({"train": (xs, [e.get("train_loss") for e in epochs]),
                      "val": (xs, [e.get("val_loss") for e in epochs])}, "loss", "loss", width)]  # fmt: skip
    key = "acc" if epochs[-1].get("val_acc") is not None else "r2"
    label = "accuracy" if key == "acc" else "R^2"
    charts.append(curves({"train": (xs, [e.get(f"train_{key}") for e in epochs]),
                          "val": (xs, [e.get(f"val_{key}") for e in epochs])}, label, label, width))  # fmt: skip
    return charts


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)
