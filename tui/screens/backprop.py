"""The backprop screen (key 5): one training sample through the build screen's network, a step at a time.

Forward node by node, backward through each local derivative and chain-rule product to every parameter's gradient,
then one optimizer update (sessions/inspect/backprop.py, the numbers of `dl-lab backprop`). The network is drawn on
top with the node of the current step highlighted; the current step is written large under it with what it is,
and every step is listed below, the current one marked. The walk is computed in a worker thread.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from dl_lab.tui.backprop_render import CURRENT, PHASE_STYLES, PHASE_TITLES, header, network, step_text
from dl_lab.tui.widgets.footer import LabFooter

WHAT = {
    "input": "an input of the sample",
    "pre-activation": "the weighted sum of the layer's inputs plus its bias",
    "activation": "the activation function applied to the pre-activation",
    "output": "the network's output",
    "layer output": "a layer's output (per tensor: its shape, norm and first entries)",
    "loss": "how far the output is from the target",
    "loss derivative": "where backpropagation starts: the loss's derivative with respect to the output",
    "gradient of the output": "the gradient with respect to this layer's output, passed back from the layer after it",
    "local derivative": "this node's own derivative (the activation's slope at its input)",
    "chain rule": "the gradient flowing back, multiplied by a local derivative (summed over every path)",
    "parameter gradient": "a parameter's gradient: the gradient at its node times what the parameter multiplies",
    "update": "the optimizer's step: the new value of the parameter",
}


class BackpropScreen(Screen):
    """The network, the current step, every step."""

    DEFAULT_CSS = """
    BackpropScreen #backprop-status {
        height: 2; padding: 0 1; background: $boost; text-wrap: nowrap; text-overflow: ellipsis;
    }
    BackpropScreen #backprop-network { height: auto; max-height: 12; padding: 1 1 0 1; }
    BackpropScreen #backprop-current { height: auto; min-height: 3; padding: 1 1 0 1; }
    BackpropScreen #backprop-steps-box { height: 1fr; border-top: solid $foreground 30%; }
    BackpropScreen #backprop-steps { padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """
    PALETTE_GROUP = "Backprop"
    BINDINGS = [
        Binding("right,space,l", "step(1)", "Next", key_display="→"),
        Binding("left,h,backspace", "step(-1)", "Back", key_display="←"),
        Binding("n,pagedown", "phase(1)", "Phase", tooltip="the next phase: backward, update"),
        Binding("p,pageup", "phase(-1)", "Previous phase", show=False),
        Binding("home", "go(0)", "First step", show=False),
        Binding("end", "go(-1)", "Last step", show=False),
        Binding("right_square_bracket", "sample(1)", "Next sample", key_display="]"),
        Binding("left_square_bracket", "sample(-1)", "Previous sample", key_display="[", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.session = None
        self.sample = 0
        self.walk: dict | None = None
        self.index = 0
        self.error: str | None = None
        self.working: Worker | None = None
        self.drawing = Text()  # the network as drawn, the current node highlighted

    def compose(self):
        yield Static(id="backprop-status")
        yield Static(id="backprop-network")
        yield Static(id="backprop-current")
        # not focusable: the arrows, home and end step through the walk; the list follows the current step
        with VerticalScroll(id="backprop-steps-box", can_focus=False):
            yield Static(id="backprop-steps")
        yield LabFooter()

    def on_screen_resume(self) -> None:
        session = getattr(self.app, "session", None)
        if session is not self.session:
            self.session, self.sample = session, 0
            self._compute()
        else:
            self._show()

    # --- computing ------------------------------------------------------------------------------------------
    def _compute(self) -> None:
        session, sample = self.session, self.sample
        if session is None:
            return

        def work():
            from dl_lab.sessions.inspect.backprop import walk
            from dl_lab.sessions.training.build import build

            built = build(session, backend="numpy")
            return walk(session, built.model, built.dataset, sample).to_dict()

        self.error = None
        self._status(f"walking sample {sample} through {session.name}...")
        self.working = self.run_worker(work, thread=True, exclusive=True, group="backprop", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.working:
            return
        event.stop()
        if event.state == WorkerState.SUCCESS:
            previous = self.walk
            self.walk = event.worker.result
            same_shape = previous is not None and len(previous["steps"]) == len(self.walk["steps"])
            self.index = self.index if same_shape else 0
            self._show()
        elif event.state == WorkerState.ERROR:
            self.walk, self.error = None, str(event.worker.error)
            if self.sample > 0 and "--sample" in self.error:
                self.sample -= 1  # past the last sample: stay on the last one
                self._compute()
                return
            self._show()

    # --- drawing --------------------------------------------------------------------------------------------
    def _status(self, note: str = "") -> None:
        text = Text()
        walk = self.walk
        if walk is None:
            text.append(self.error or note or "", style="bold" if self.error else "")
        else:
            text.append_text(header(walk))
        text.append("\n")
        if walk is not None and not note:
            step = walk["steps"][self.index]
            text.append(f"step {self.index + 1} of {len(walk['steps'])} ", style="dim")
            text.append(step["phase"], style=f"bold {PHASE_STYLES[step['phase']]}")
            text.append("   → ← step  n p phase  [ ] sample", style="dim")
        elif note:
            text.append(note, style="dim")
        else:
            text.append("the build screen's session (1) is walked here; fix it there", style="dim")
        self.query_one("#backprop-status", Static).update(text)

    def _show(self) -> None:
        self._status()
        walk = self.walk
        net = self.query_one("#backprop-network", Static)
        current = self.query_one("#backprop-current", Static)
        steps_view = self.query_one("#backprop-steps", Static)
        if walk is None:
            net.update("")
            current.update(Text(self.error or "", style="bold red") if self.error else "")
            steps_view.update("")
            return
        width = max(40, self.size.width - 2)
        self.drawing = network(walk, self.index, width)
        net.update(self.drawing)
        step = walk["steps"][self.index]
        big = Text()
        big.append_text(step_text(step))
        big.append("\n")
        big.append(f"{step['what']}: {WHAT.get(step['what'], '')}", style="dim italic")
        current.update(big)
        lines = Text()
        phase = None
        row = current_row = 0
        for n, s in enumerate(walk["steps"]):
            if s["phase"] != phase:
                phase = s["phase"]
                lines.append(("\n" if n else "") + PHASE_TITLES[phase], style=f"bold {PHASE_STYLES[phase]}")
                row += 1
            lines.append("\n")
            current_row = row if n == self.index else current_row
            row += 1
            marker = "▶ " if n == self.index else "  "
            lines.append(f"{marker}{n + 1:>3} ", style=CURRENT if n == self.index else "dim")
            if n <= self.index:
                lines.append_text(step_text(s, current=n == self.index))
            else:
                lines.append(s["node"], style="dim")  # not reached yet: its name only
        steps_view.update(lines)
        box = self.query_one("#backprop-steps-box", VerticalScroll)
        box.scroll_to(y=max(0, current_row - box.size.height // 2), animate=False)  # the current step in view

    # --- actions --------------------------------------------------------------------------------------------
    def action_step(self, delta: int) -> None:
        if self.walk is not None:
            self.index = max(0, min(len(self.walk["steps"]) - 1, self.index + delta))
            self._show()

    def action_go(self, where: int) -> None:
        if self.walk is not None:
            self.index = where % len(self.walk["steps"])
            self._show()

    def action_phase(self, delta: int) -> None:
        """The first step of the next (or this, then the previous) phase."""
        if self.walk is None:
            return
        steps = self.walk["steps"]
        starts = [n for n, s in enumerate(steps) if n == 0 or steps[n - 1]["phase"] != s["phase"]]
        if delta > 0:
            later = [n for n in starts if n > self.index]
            self.index = later[0] if later else self.index
        else:
            earlier = [n for n in starts if n < self.index]
            self.index = earlier[-1] if earlier else 0
        self._show()

    def action_sample(self, delta: int) -> None:
        if self.session is None:
            return
        last = self.walk["samples"] - 1 if self.walk is not None else None
        sample = max(0, self.sample + delta) if last is None else max(0, min(last, self.sample + delta))
        if sample == self.sample and self.walk is not None:
            self._status(f"sample {sample} is the {'first' if delta < 0 else 'last'} (the training split: 0 to {last})")
            return
        self.sample = sample
        self._compute()
