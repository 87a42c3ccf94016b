"""The DecisionMap's data: a trainer snapshot's boundary and a dataset's points, prepared once per update."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dl_lab.tui.widgets.raster import bilinear

MAX_STRENGTH = 0.8  # the most a confident region is tinted, so marks in full colour still stand out on it
LEVELS = 16  # tint levels: fewer distinct colours, longer runs of equal cells


@dataclass(frozen=True)
class PointSet:
    """Points with a class each and a strength 0..1 (1 for class labels; |value| / scale for regression)."""

    xy: np.ndarray
    cls: np.ndarray
    strength: np.ndarray


@dataclass(frozen=True)
class MapData:
    """A prepared map: a grid of (class, strength) or a 1-D curve, points, and the view's bounds (x0, x1, y0, y1)."""

    kind: str | None
    bounds: tuple[float, float, float, float]
    cls: np.ndarray | None = None
    strength: np.ndarray | None = None
    curve: tuple[np.ndarray, np.ndarray] | None = None
    train: PointSet | None = None
    val: PointSet | None = None
    num_classes: int = 2
    scale: float | None = None  # regression: the value that gets the full colour
    class_names: tuple[str, ...] = ()


def _floats(values) -> np.ndarray:
    return np.asarray(values if values is not None else [], dtype=float).reshape(-1)


def _points(points, labels, regression: bool, scale: float) -> PointSet | None:
    if points is None or labels is None:
        return None
    xy = np.asarray(points, dtype=float).reshape(len(labels), -1)
    if xy.size == 0:
        return None
    lab = np.asarray(labels).reshape(-1)
    if regression:
        v = lab.astype(float)
        return PointSet(xy[:, :2], (v > 0).astype(np.int64), np.clip(np.abs(v) / scale, 0.0, 1.0))
    return PointSet(xy[:, :2], lab.astype(np.int64), np.ones(len(lab)))


def _is_regression(kind: str | None, points: dict) -> bool:
    if kind in ("value", "curve"):
        return True
    if kind in ("probability", "classes"):
        return False
    labels = points.get("train_labels")
    if labels is None:
        return False
    lab = np.asarray(labels)
    return lab.dtype.kind == "f" and bool(np.any(lab != np.round(lab)))


def prepare_map(boundary: dict | None, points: dict | None, class_names=None) -> MapData:
    """Turn a snapshot boundary and a dataset's ``points_2d`` into what the map draws (any of them may be None)."""
    points = points or {}
    kind = boundary.get("kind") if boundary else None
    if kind == "curve":
        return _prepare_curve(boundary, points)
    # a unit's output over the plane (the network view's chosen neuron): its sign and size, the points by label
    regression = _is_regression(None if kind == "neuron" else kind, points)
    cls = strength = None
    num_classes, scale = 2, None
    if boundary is not None:
        res = int(boundary.get("resolution") or round(len(boundary["values"]) ** 0.5))
        values = _floats(boundary["values"])[: res * res].reshape(res, res)
        if kind == "classes":
            cls = np.asarray(boundary["classes"], dtype=np.int64)[: res * res].reshape(res, res)
            num_classes = int(cls.max()) + 1
            floor = 1.0 / max(num_classes, 2)
            strength = (values - floor) / (1.0 - floor)  # a confidence of 1/K is a coin toss among K classes
        elif kind == "neuron":
            top = boundary.get("scale") or float(np.nanmax(np.abs(values))) if values.size else 1.0
            cls, strength = (values > 0).astype(np.int64), np.abs(values) / (top or 1.0)
        elif kind == "value":
            labels = _floats(points.get("train_labels"))
            scale = float(np.nanmax(np.abs(labels))) if labels.size else float(np.nanmax(np.abs(values)))
            cls, strength = (values > 0).astype(np.int64), np.abs(values) / (scale or 1.0)
        else:
            cls, strength = (values >= 0.5).astype(np.int64), np.abs(2.0 * values - 1.0)
        strength = np.round(np.clip(np.nan_to_num(strength), 0.0, 1.0) * LEVELS) / LEVELS
    if regression and scale is None:
        labels = _floats(points.get("train_labels"))
        scale = float(np.nanmax(np.abs(labels))) if labels.size else 1.0
    scale = scale or 1.0
    train = _points(points.get("train_points"), points.get("train_labels"), regression, scale)
    val = _points(points.get("val_points"), points.get("val_labels"), regression, scale)
    for ps in (train, val):
        if ps is not None and not regression and ps.cls.size:
            num_classes = max(num_classes, int(ps.cls.max()) + 1)
    return MapData(
        kind=kind,
        bounds=_bounds(boundary, points, train, val),
        cls=cls,
        strength=strength,
        train=train,
        val=val,
        num_classes=num_classes,
        scale=scale if regression else None,
        class_names=tuple(class_names or ()),
    )


def _bounds(boundary, points, train, val) -> tuple[float, float, float, float]:
    if boundary is not None and len(boundary.get("bounds") or ()) == 2:
        (x0, x1), (y0, y1) = boundary["bounds"]
        return float(x0), float(x1), float(y0), float(y1)
    if points.get("bounds") is not None and len(points["bounds"]) == 4:
        return tuple(float(b) for b in points["bounds"])  # type: ignore[return-value]
    xy = [p.xy for p in (train, val) if p is not None]
    if not xy:
        return (-1.0, 1.0, -1.0, 1.0)
    allxy = np.vstack(xy)
    lo, hi = allxy.min(axis=0), allxy.max(axis=0)
    pad = np.maximum((hi - lo) * 0.05, 1e-6)
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def _pair(x, y) -> PointSet | None:
    x, y = _floats(x), _floats(y)
    n = min(len(x), len(y))
    if n == 0:
        return None
    return PointSet(np.stack([x[:n], y[:n]], axis=1), np.zeros(n, np.int64), np.ones(n))


def _curve_points(points: dict) -> tuple[PointSet | None, PointSet | None]:
    """Train and validation points of a 1-D data set: ``{"x", "y"[, "val_x", "val_y"]}`` or ``points_2d``-like."""
    if points.get("x") is not None:
        return _pair(points.get("x"), points.get("y")), _pair(points.get("val_x"), points.get("val_y"))
    sets = []
    for split in ("train", "val"):
        xy = points.get(f"{split}_points")
        sets.append(None if xy is None else _pair(np.asarray(xy)[:, 0], points.get(f"{split}_labels")))
    return sets[0], sets[1]


def _prepare_curve(boundary: dict, points: dict) -> MapData:
    xs, ys = _floats(boundary.get("x")), _floats(boundary.get("values"))
    train, val = _curve_points(points)
    sets = [ps.xy for ps in (train, val) if ps is not None]
    allxy = np.vstack([np.stack([xs, ys], axis=1)[: min(len(xs), len(ys))], *sets])
    allxy = allxy[np.isfinite(allxy).all(axis=1)]
    if boundary.get("bounds"):
        x0, x1 = (float(b) for b in boundary["bounds"][0])
    else:
        x0, x1 = (float(allxy[:, 0].min()), float(allxy[:, 0].max())) if len(allxy) else (-1.0, 1.0)
    y0, y1 = (float(allxy[:, 1].min()), float(allxy[:, 1].max())) if len(allxy) else (-1.0, 1.0)
    pad = (y1 - y0) * 0.05 or 0.5
    bounds = (x0, x1 if x1 > x0 else x0 + 1.0, y0 - pad, y1 + pad)
    return MapData("curve", bounds, curve=(xs, ys), train=train, val=val)


def smooth_grid(cls: np.ndarray, strength: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(class, strength) of a boundary grid upsampled to ``rows`` x ``cols`` without blocks: each class's evidence
    (its strength where it wins, else 0) is interpolated bilinearly, and a pixel takes the strongest class with the
    margin over the runner-up as its strength (for two classes this is bilinear interpolation of the probability:
    the boundary fades through the background where the two meet, as the model's own finer grid would show)."""
    k = int(cls.max()) + 1 if cls.size else 1
    evidence = np.zeros((*cls.shape, max(k, 2)))
    np.put_along_axis(evidence, cls[..., None], strength[..., None], axis=-1)
    fine = bilinear(evidence, rows, cols)
    order = np.sort(fine, axis=-1)
    margin = order[..., -1] - order[..., -2]
    return np.argmax(fine, axis=-1), np.round(np.clip(margin, 0.0, 1.0) * LEVELS) / LEVELS


def tint_grid(cls: np.ndarray, strength: np.ndarray, palette: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Packed 0xRRGGBB per grid cell: the class colour blended into the background by strength (0 -> background)."""
    colors = palette[cls % len(palette)].astype(float)
    t = (strength * MAX_STRENGTH)[..., None]
    rgb = np.rint(background[None, None, :] * (1.0 - t) + colors * t).astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def point_colors(ps: PointSet, palette: np.ndarray, background: np.ndarray, toward: np.ndarray) -> np.ndarray:
    """Packed mark colours: the class colour (faded by strength for regression), pushed toward ``toward``."""
    colors = palette[ps.cls % len(palette)].astype(float)
    t = (0.35 + 0.65 * ps.strength)[:, None]
    rgb = background[None, :] * (1.0 - t) + colors * t
    rgb = rgb + (toward[None, :] - rgb) * 0.3
    return (np.rint(rgb).astype(np.int64) * np.array([1 << 16, 1 << 8, 1])).sum(axis=1)


def unpack(packed: np.ndarray) -> np.ndarray:
    """(...,) packed colours -> (..., 3) floats."""
    return np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=-1).astype(float)


def mean_color(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The packed average of two packed colour arrays."""
    rgb = np.rint((unpack(a) + unpack(b)) / 2).astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
