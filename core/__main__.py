"""`python -m dl_lab.core`: train seed 002's XOR network with the engine alone and print what it learned."""

from __future__ import annotations

import numpy as np

from . import Sequential, TrainStep, get_loss, make_optimizer


def main() -> None:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    t = np.array([0, 1, 1, 0])
    model = Sequential([{"dense": {"units": 4, "activation": "tanh"}}, {"dense": {"units": 2}}], (2,), seed=1)
    loss = get_loss("cross_entropy")
    step = TrainStep(model, loss, make_optimizer({"name": "adam", "lr": 0.05}))
    print(f"XOR with {model}")
    for epoch in range(1, 301):
        value = float(step(x, t))
        if epoch in (1, 10, 50, 100, 200, 300):
            acc = float((loss.predict(model.forward(x)) == t).mean())
            print(f"  epoch {epoch:3d}  loss {value:.4f}  accuracy {acc:.0%}")
    preds = loss.predict(model.forward(x))
    for xi, p in zip(x.astype(int).tolist(), preds.tolist(), strict=True):
        print(f"  {xi[0]} xor {xi[1]} -> {p}")


if __name__ == "__main__":
    main()
