"""Learning-rate schedules: the learning rate as a function of the epoch (0-based), as torch's schedulers."""

from __future__ import annotations

import math

from .spec import Option, check_options, unknown_name

SCHEDULES: dict[str, dict[str, Option]] = {
    "constant": {},
    "step": {
        "step_size": Option("int", 10, min=1, help="epochs between decays"),
        "gamma": Option("float", 0.1, min=0.0, help="factor applied every step_size epochs"),
    },
    "exponential": {"gamma": Option("float", 0.95, min=0.0, help="factor applied every epoch")},
    "inverse_time": {
        "decay_rate": Option("float", 0.5, min=0.0, help="lr / (1 + decay_rate * epoch / decay_steps)"),
        "decay_steps": Option("int", 1, min=1, help="epochs per unit of decay"),
    },
    "cosine": {
        "t_max": Option("int", None, min=1, help="epochs of the half cosine (default: all epochs)"),
        "eta_min": Option("float", 0.0, min=0.0, help="the final learning rate"),
    },
}
SCHEDULE_NAMES = tuple(SCHEDULES)


class Schedule:
    """``lr_at(epoch)`` for a base learning rate and a named rule."""

    def __init__(self, base_lr: float, config: dict | str | None = None, epochs: int = 1, where: str = "schedule"):
        config = {"name": "constant"} if config is None else config
        config = {"name": config} if isinstance(config, str) else dict(config)
        self.name = config.pop("name", "constant")
        if self.name not in SCHEDULES:
            raise unknown_name(f"{where}.name", "schedule", self.name, SCHEDULE_NAMES)
        self.cfg = check_options(where, SCHEDULES[self.name], config)
        self.base_lr = float(base_lr)
        self.epochs = max(1, int(epochs))

    def lr_at(self, epoch: int) -> float:
        c, lr = self.cfg, self.base_lr
        if self.name == "step":
            return lr * c["gamma"] ** (epoch // c["step_size"])
        if self.name == "exponential":
            return lr * c["gamma"] ** epoch
        if self.name == "inverse_time":
            return lr / (1.0 + c["decay_rate"] * epoch / c["decay_steps"])
        if self.name == "cosine":
            t_max = c["t_max"] or self.epochs
            t = min(epoch, t_max)
            return c["eta_min"] + (lr - c["eta_min"]) * (1.0 + math.cos(math.pi * t / t_max)) / 2.0
        return lr

    def config(self) -> dict:
        return {"name": self.name, **self.cfg}
