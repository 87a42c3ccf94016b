"""Generated sets: TensorFlow Playground's 2-D data (dataset.ts), moons, a 1-D sine and logic gates.

The Playground generators follow its dataset.ts formula for formula, with two changes: labels are
0/1 instead of -1/+1 (1 is Playground's positive, blue class), and exactly ``n`` points come out even
when ``n`` is odd. ``noise`` has Playground's meaning: its slider value divided by 100 (0 to 0.5).
"""

from __future__ import annotations

import numpy as np

PLAYGROUND_BOUNDS = (-6.0, 6.0, -6.0, 6.0)  # Playground draws every set over x, y in [-6, 6]
GATE_BOUNDS = (-0.5, 1.5, -0.5, 1.5)
PLAYGROUND_CLASSES = ["negative", "positive"]


def _halves(n: int) -> tuple[int, int]:
    """Sizes of the positive and the negative group for sets that build one class at a time."""
    return n - n // 2, n // 2


def _on_circle(radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)


def circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positive points in a disc of radius 2.5, negative ones in a ring from 3.5 to 5.

    As in Playground the label comes from the *noisy* position, so noise flips some labels.
    """
    radius = 5.0
    inside, outside = _halves(n)
    r = np.concatenate([rng.uniform(0, radius * 0.5, inside), rng.uniform(radius * 0.7, radius, outside)])
    points = _on_circle(r, rng.uniform(0, 2 * np.pi, n))
    jitter = rng.uniform(-radius, radius, (n, 2)) * noise
    labels = np.hypot(*(points + jitter).T) < radius * 0.5
    return points, labels.astype(np.int64)


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-5, 5]^2 pushed 0.3 away from the axes; positive where x1 * x2 >= 0."""
    points = rng.uniform(-5, 5, (n, 2))
    points += np.where(points > 0, 0.3, -0.3)
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    labels = np.prod(points + jitter, axis=1) >= 0
    return points, labels.astype(np.int64)


def gaussian(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs at (2, 2) (positive) and (-2, -2); variance grows from 0.5 to 4 with noise."""
    std = np.sqrt(0.5 + 7.0 * noise)  # Playground's linear scale: noise 0..0.5 -> variance 0.5..4
    positive, negative = _halves(n)
    centres = np.repeat([[2.0, 2.0], [-2.0, -2.0]], [positive, negative], axis=0)
    labels = np.repeat([1, 0], [positive, negative])
    return centres + rng.normal(0.0, std, (n, 2)), labels.astype(np.int64)


def spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two spirals, 1.75 turns each out to radius 5, the negative one rotated by pi."""
    positive, negative = _halves(n)
    step = np.concatenate([np.arange(positive), np.arange(negative)]) / (n / 2)
    turn = np.repeat([0.0, np.pi], [positive, negative])
    points = _on_circle(step * 5, 1.75 * step * 2 * np.pi + turn)
    points += rng.uniform(-1, 1, (n, 2)) * noise
    return points, np.repeat([1, 0], [positive, negative]).astype(np.int64)


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``make_moons`` (class 0 the upper moon), scaled by 3 and centred on the origin.

    ``noise`` is the standard deviation of Gaussian noise in moon radii, as in scikit-learn; the
    scaling puts the moons in Playground's [-6, 6] view next to the other sets.
    """
    upper, lower = n // 2, n - n // 2
    a, b = np.linspace(0, np.pi, upper), np.linspace(0, np.pi, lower)
    points = np.concatenate(
        [np.stack([np.cos(a), np.sin(a)], axis=1), np.stack([1 - np.cos(b), 0.5 - np.sin(b)], axis=1)]
    )
    points += rng.normal(0.0, noise, (n, 2)) if noise > 0 else 0.0
    labels = np.repeat([0, 1], [upper, lower]).astype(np.int64)
    return (points - [0.5, 0.25]) * 3.0, labels


def plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Regression: uniform points in [-6, 6]^2, target (x1 + x2) / 10 taken at a jittered position."""
    points = rng.uniform(-6, 6, (n, 2))
    jitter = rng.uniform(-6, 6, (n, 2)) * noise
    return points, (points + jitter).sum(axis=1) / 10.0


_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def multi_gaussian(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Regression: six bumps of alternating sign; each point takes the strongest bump's value.

    A bump's value falls linearly from +-1 at its centre to 0 at distance 2 (Playground's clamped scale).
    """
    points = rng.uniform(-6, 6, (n, 2))
    at = points + rng.uniform(-6, 6, (n, 2)) * noise
    distance = np.hypot(at[:, None, 0] - _BUMPS[:, 0], at[:, None, 1] - _BUMPS[:, 1])
    values = _BUMPS[:, 2] * np.clip(1.0 - distance / 2.0, 0.0, 1.0)
    strongest = np.argmax(np.abs(values), axis=1)  # first maximum, as Playground's strict ">" keeps it
    return points, values[np.arange(n), strongest]


def sine(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """1-D regression: x uniform in [-pi, pi], y = sin(x) plus Gaussian noise of std ``noise``."""
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    y = np.sin(x[:, 0])
    if noise > 0:
        y = y + rng.normal(0.0, noise, n)
    return x, y


GATES = {"gate_and": [0, 0, 0, 1], "gate_or": [0, 1, 1, 1], "gate_xor": [0, 1, 1, 0]}
_TRUTH_TABLE = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The four rows of a logic gate's truth table, inputs 0/1, in the order 00, 01, 10, 11."""
    return _TRUTH_TABLE.copy(), np.array(GATES[name], dtype=np.int64)


CLASSIFIERS = {"circle": circle, "xor": xor, "gaussian": gaussian, "spiral": spiral, "moons": moons}
REGRESSORS = {"plane": plane, "multi_gaussian": multi_gaussian}
