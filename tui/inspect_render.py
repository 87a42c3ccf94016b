"""The inspect views' pictures (`dl-lab inspect` and the app's inspect screen): each view's numbers
(sessions/inspect/) as half-block images and plotext curves, as Rich renderables.

Two pixels a cell ("▀": the upper pixel in the foreground colour, the lower one in the background colour), so the
pictures work in any terminal, over SSH and in tmux; a Rich console records them for --svg.
"""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text

NEGATIVE, POSITIVE = (242, 142, 43), (78, 121, 167)  # Playground's orange and blue
BACKGROUND = (24, 24, 24)
MOST_TILES = 16  # images a row at most


def curves(series: dict, title: str, ylabel: str, width: int = 80, height: int = 15, xlabel: str = "") -> str:
    """A plotext line chart of named (x, y) series, as text (non-finite points left out)."""
    import plotext as plt

    plt.clf()
    plt.plotsize(width, height)
    plt.theme("clear")
    for label, (xs, ys) in series.items():
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None and math.isfinite(y)]
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label=label, marker="braille")
    plt.title(title)
    plt.xlabel(xlabel)
    plt.ylabel(ylabel)
    return plt.build()


def _rgb(t: np.ndarray, diverging: bool) -> np.ndarray:
    """(H, W) values in [0, 1] (grey scale) or [-1, 1] (diverging) -> (H, W, 3) ints."""
    if diverging:
        a = np.clip(np.abs(t), 0, 1)[..., None]
        colour = np.where((t >= 0)[..., None], np.array(POSITIVE), np.array(NEGATIVE))
        return np.rint(np.array(BACKGROUND) * (1 - a) + colour * a).astype(int)
    g = np.rint(np.clip(t, 0, 1) * 255).astype(int)
    return np.stack([g, g, g], axis=-1)


def picture(values, *, diverging: bool = False, scale: int = 1, lo=None, hi=None) -> list[Text]:
    """An image as Text lines: (H, W) grey (or diverging around 0), or (3, H, W) RGB; values scaled to [lo, hi]
    (default: their own range; diverging: ±max|v|), each pixel ``scale`` cells wide and tall."""
    arr = np.nan_to_num(np.asarray(values, dtype=np.float64))
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if diverging:
        top = float(np.abs(arr).max()) or 1.0
        t = arr / top
    else:
        low = float(arr.min()) if lo is None else lo
        high = float(arr.max()) if hi is None else hi
        t = (arr - low) / ((high - low) or 1.0)
    if arr.ndim == 3:  # RGB
        rgb = np.rint(np.clip(np.moveaxis(t, 0, -1), 0, 1) * 255).astype(int)
    else:
        rgb = _rgb(t, diverging)
    return halfblocks(np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1))


def halfblocks(rgb: np.ndarray) -> list[Text]:
    """(H, W, 3) pixels as Text lines of "▀" cells, two pixels a cell (an odd last row over the background)."""
    if rgb.shape[0] % 2:
        rgb = np.concatenate([rgb, np.full((1, *rgb.shape[1:]), BACKGROUND)], axis=0)
    lines = []
    for r in range(0, rgb.shape[0], 2):
        line = Text()
        for up, down in zip(rgb[r], rgb[r + 1], strict=True):
            line.append(
                "▀", Style(color=f"rgb({up[0]},{up[1]},{up[2]})", bgcolor=f"rgb({down[0]},{down[1]},{down[2]})")
            )
        lines.append(line)
    return lines


def side_by_side(blocks: list[tuple[list[Text], str]], gap: int = 2) -> Group:
    """Pictures in a row, each with a caption under it."""
    height = max(len(lines) for lines, _ in blocks)
    widths = [max([line.cell_len for line in lines] + [len(caption)]) for lines, caption in blocks]
    rows = []
    for y in range(height + 1):
        row = Text()
        for (lines, caption), w in zip(blocks, widths, strict=True):
            cell = lines[y] if y < len(lines) else Text(caption[:w] if y == height else "")
            row.append_text(cell)
            row.append(" " * (w - cell.cell_len + gap))
        rows.append(row)
    return Group(*rows)


def tiles(images: list, captions: list[str], width: int, **kwargs) -> list[RenderableType]:
    """Small pictures in rows that fit ``width`` columns."""
    if not images:
        return []
    first = picture(images[0], **kwargs)
    per_row = max(1, min(MOST_TILES, (width + 2) // (max(line.cell_len for line in first) + 2)))
    out: list[RenderableType] = []
    for start in range(0, len(images), per_row):
        chunk = [
            (picture(img, **kwargs), cap)
            for img, cap in zip(images[start : start + per_row], captions[start:], strict=False)
        ]
        out.append(side_by_side(chunk))
    return out


def _scale_for(shape, width: int) -> int:
    return max(1, min(4, 24 // max(shape[-1], 1), width // max(shape[-1] * 3, 1)))


def render(data: dict, width: int = 100) -> list[RenderableType]:
    """What the terminal shows of a view's data."""
    view = data["view"]
    head = Text(f"{view} · checkpoint {data.get('checkpoint')}", style="bold")
    body = {
        "filters": _filters,
        "features": _features,
        "saliency": _saliency,
        "adversarial": _adversarial,
        "dream": _dream,
        "gradients": _gradients,
        "landscape": _landscape,
    }.get(view)
    if body is None:
        raise ValueError(f"no picture for the view {view!r}")
    return [head, *body(data, width)]


def _filters(data: dict, width: int) -> list[RenderableType]:
    out: list[RenderableType] = []
    for layer in data["layers"]:
        w = np.asarray(layer["filters"], dtype=np.float64)
        o, c = w.shape[0], w.shape[1]
        if layer["kind"] == "dense":  # rows of a dense layer on images: each unit's weights as the image
            images = [w[k] if c == 3 else w[k, 0] for k in range(min(o, 32))]
            captions = [str(k) for k in range(len(images))]
            out.append(Text(f"layer {layer['index']} dense: each unit's weights over the image ({o} units)"))
        elif c == 3:
            images = [w[k] for k in range(o)]
            captions = [str(k) for k in range(o)]
            out.append(Text(f"layer {layer['index']} conv2d {tuple(w.shape)}: each filter in RGB"))
        else:  # each filter's kernel for each input channel (the first 16 filters, 8 channels): "filter.channel"
            pairs = [(k, i) for k in range(min(o, 16)) for i in range(min(c, 8))]
            images = [w[k, i] for k, i in pairs]
            captions = [f"{k}.{i}" if c > 1 else str(k) for k, i in pairs]
            shown = f"; filters 0-{min(o, 16) - 1} x input channels 0-{min(c, 8) - 1}" if c > 1 or o > 16 else ""
            out.append(Text(f"layer {layer['index']} conv2d {tuple(w.shape)} (orange -, blue +){shown}"))
        scale = _scale_for(images[0].shape, width)
        out += tiles(images, captions, width, diverging=c != 3, scale=scale)
    return out


def _features(data: dict, width: int) -> list[RenderableType]:
    img = np.asarray(data["image"])
    out: list[RenderableType] = [
        Text(
            f"sample {data['sample']}: true {data['true']}, predicted {data['predicted']} ({data['probability']:.0%})"
        ),
        side_by_side([(picture(img, scale=_scale_for(img.shape, width)), "input")]),
    ]
    for layer in data["layers"]:
        maps = np.asarray(layer["maps"], dtype=np.float64)
        out.append(Text(f"layer {layer['index']} {layer['kind']} (after {layer['after']}): {len(maps)} maps"))
        scale = _scale_for(maps.shape, width)
        out += tiles(list(maps[: MOST_TILES * 2]), [str(k) for k in range(len(maps))], width, scale=scale)
    return out


def _saliency(data: dict, width: int) -> list[RenderableType]:
    img = np.asarray(data["image"])
    out: list[RenderableType] = [
        Text(f"sample {data['sample']}: true {data['true']}, predicted {data['predicted']} ({data['probability']:.0%})")
    ]
    if img.ndim < 2:  # not an image: one bar a feature
        for m in data["maps"]:
            out.append(Text(f"|∂ score of {m['name']} / ∂ input|: " + ", ".join(f"{v:.3g}" for v in m["saliency"])))
        return out
    scale = _scale_for(img.shape, width)
    blocks = [(picture(img, scale=scale), "input")]
    for m in data["maps"]:
        blocks.append((picture(np.asarray(m["saliency"]), scale=scale), f"|∂S/∂x| {m['name']}"))
    out.append(side_by_side(blocks))
    return out


def _adversarial(data: dict, width: int) -> list[RenderableType]:
    eps = data["eps"]
    series = {"FGSM": (eps, data["fgsm_accuracy"]), f"PGD ({data['pgd_steps']} steps)": (eps, data["pgd_accuracy"])}
    chart = curves(
        series,
        "validation accuracy against ε",
        "accuracy",
        width=min(width, 100) - 1,
        height=14,
        xlabel="ε (raw input units)",
    )
    lo, hi = data["range"]
    out: list[RenderableType] = [
        Text(
            f"ε in raw input units; inputs clipped to the data's range [{lo:g}, {hi:g}]; {data['samples']} samples; "
            f"clean accuracy {data['clean_accuracy']:.1%} (the run's: {_pct(data.get('run_val_acc'))})"
        ),
        Text.from_ansi(chart),
    ]
    for ex in data["examples"]:
        img = np.asarray(ex["image"])
        if img.ndim < 2:
            continue
        scale = _scale_for(img.shape, width)
        clean, adv = ex["clean"], ex["fgsm"]
        out.append(
            side_by_side(
                [
                    (picture(img, scale=scale, lo=lo, hi=hi), f"{clean['predicted']} {clean['confidence']:.0%}"),
                    (picture(np.asarray(ex["perturbation"]), scale=scale, diverging=True), f"ε {ex['eps']:g}"),
                    (
                        picture(np.asarray(ex["adversarial_image"]), scale=scale, lo=lo, hi=hi),
                        f"{adv['predicted']} {adv['confidence']:.0%}",
                    ),
                ]
            )
        )
    return out


def _pct(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _dream(data: dict, width: int) -> list[RenderableType]:
    lo, hi = data["range"]
    images = [np.asarray(t["image"]) for t in data["tiles"]]
    captions = [f"{t['name']} {t['probability']:.0%}" for t in data["tiles"]]
    what = "each class's input that maximizes its score" if data["target"] == "class" else "a channel's input"
    out: list[RenderableType] = [
        Text(
            f"{what}: {data['steps']} steps of gradient ascent from zero (lr {data['lr']:g}, L2 {data['l2']:g}, "
            f"jitter {data['jitter']}, blur {data['blur']:g}); caption: the class and its probability"
        )
    ]
    if images:
        out += tiles(images, captions, width, scale=_scale_for(images[0].shape, width), lo=lo, hi=hi)
        series = {
            t["name"]: ([p["step"] for p in t["progress"]], [p["score"] for p in t["progress"]])
            for t in data["tiles"][:10]
        }
        chart = curves(series, "score during the ascent", "score", width=min(width, 100) - 1, height=12, xlabel="step")
        out.append(Text.from_ansi(chart))
    return out


def _gradients(data: dict, width: int) -> list[RenderableType]:
    import plotext as plt

    plt.clf()
    plt.plotsize(min(width, 100) - 1, 16)
    plt.theme("clear")
    plt.yscale("log")
    for layer in data["layers"]:
        pts = [(r["step"], r["norm"]) for r in layer["recorded"] if r["norm"] is not None and r["norm"] > 0]
        if pts:
            plt.plot(
                [p[0] for p in pts], [p[1] for p in pts], label=f"{layer['index']} {layer['kind']}", marker="braille"
            )
    plt.title("‖∂L/∂W‖ per layer over training (log scale): vanishing or exploding at a glance")
    plt.xlabel("step")
    out: list[RenderableType] = [Text.from_ansi(plt.build())]
    out.append(Text(f"one batch of {data['batch']} at this checkpoint (loss {data['loss']}):", style="bold"))
    for layer in data["layers"]:
        now = layer["now"]
        out.append(
            Text(
                f"  {layer['index']:>3} {layer['kind']:<10} mean |∂L/∂W| {_num(now['mean_abs'])}  "
                f"max {_num(now['max_abs'])}  norm {_num(now['norm'])}"
            )
        )
    return out


BANDS = (
    (13, 8, 135),
    (84, 2, 163),
    (139, 10, 165),
    (185, 50, 137),
    (219, 92, 104),
    (244, 136, 73),
    (254, 188, 43),
    (240, 249, 33),
)  # plasma: low loss dark, high loss bright


def _landscape(data: dict, width: int) -> list[RenderableType]:
    if data["mode"] == "1d":
        series = {"loss": (data["alpha"], data["loss"])}
        chart = curves(
            series,
            "loss along w(α) = initial + α·(final - initial)",
            "loss",
            width=min(width, 100) - 1,
            xlabel="α (0: initial weights, 1: final)",
        )
        return [
            Text.from_ansi(chart),
            Text(
                f"initial loss {_num(data['initial_loss'])}, final {_num(data['final_loss'])} "
                f"({data['samples']} samples, {data['seconds']:.2f} s)"
            ),
        ]
    loss = np.asarray([[np.nan if v is None else v for v in row] for row in data["loss"]], dtype=np.float64)
    logl = np.log10(np.maximum(loss, 1e-12))
    finite = np.isfinite(logl)
    lo, hi = (float(logl[finite].min()), float(logl[finite].max())) if finite.any() else (0.0, 1.0)
    band = np.clip(((logl - lo) / ((hi - lo) or 1.0) * len(BANDS)).astype(int), 0, len(BANDS) - 1)
    rgb = np.array(BANDS)[band]
    rgb[~finite] = (255, 255, 255)
    a, b = np.asarray(data["a"]), np.asarray(data["b"])
    for point in data["path"]:  # the training path, in white (rows: b from -span at the top)
        i = int(np.argmin(np.abs(b - point["b"])))
        j = int(np.argmin(np.abs(a - point["a"])))
        if abs(point["a"]) <= a.max() and abs(point["b"]) <= b.max():
            rgb[i, j] = (255, 255, 255)
    scale = max(1, min(3, (width - 4) // max(len(a), 1)))
    lines: list[RenderableType] = list(halfblocks(np.repeat(np.repeat(rgb[::-1], scale, axis=0), scale, axis=1)))
    key = Text("bands of log10 loss: ")
    for k, colour in enumerate(BANDS):
        key.append("■", Style(color=f"rgb({colour[0]},{colour[1]},{colour[2]})"))
        key.append(f"{10 ** (lo + (hi - lo) * k / len(BANDS)):.3g} " if k in (0, len(BANDS) - 1) else " ")
    return [
        Text(
            f"loss around the weights along {_plane(data)}, a and b in [{data['a'][0]:g}, {data['a'][-1]:g}] "
            f"({data['steps']}x{data['steps']}, {data['samples']} samples, {data['seconds']:.1f} s); "
            "white: the training path"
        ),
        *lines,
        key,
        Text(
            f"centre (the weights) {_num(data['centre_loss'])}, lowest {_num(data['min_loss'])}, "
            f"highest {_num(data['max_loss'])}"
        ),
    ]


def _plane(data: dict) -> str:
    if data.get("directions") == "pca":
        return f"the training path's two principal directions ({_num(data.get('variance'))} of its variance)"
    return "two random filter-normalized directions"


def _num(value) -> str:
    return "-" if value is None else f"{value:.3g}"
