"""The Build screen's training pane: session name and seed, loss, optimizer, schedule, regularization and more."""

from __future__ import annotations

from textual import on
from textual.containers import VerticalScroll
from textual.widgets import Collapsible, Static

from dl_lab.core import LOSS_NAMES, OPTIMIZERS
from dl_lab.core.schedules import SCHEDULES
from dl_lab.core.spec import Option
from dl_lab.sessions.config.schema import EARLY_STOPPING, MONITOR, REGULARIZATION, SCALARS, TRAINING
from dl_lab.tui.widgets.forms import NamedForm, OptionForm

TOP = {
    "name": SCALARS["name"],
    "seed": SCALARS["seed"],
    "loss": Option("choice", "cross_entropy", choices=LOSS_NAMES, help="what training minimizes"),
    "init": Option("any", "glorot_uniform", help="initializer of every weight (a layer may set its own)"),
    "backend": SCALARS["backend"],
    "dtype": SCALARS["dtype"],
}
LOOP = {k: o for k, o in TRAINING.items() if k not in ("schedule", "early_stopping")}
OPTIMIZER_CHOICES = {name: cls.options for name, cls in OPTIMIZERS.items()}
EARLY_STOPPING_CHOICES = {"off": {}, "on": EARLY_STOPPING}


class Section(Collapsible):
    """A collapsible section whose content is mounted when it is first expanded (fewer widgets to style at start)."""

    def __init__(self, *content, title: str, collapsed: bool = True, id: str | None = None) -> None:
        # "-collapsed" from the start: Collapsible sets it when mounted, which would restyle the section again
        classes = "-collapsed" if collapsed else None
        super().__init__(*(() if collapsed else content), title=title, collapsed=collapsed, id=id, classes=classes)
        self.pending = list(content) if collapsed else []

    @on(Collapsible.Expanded)
    async def _expanded(self, event: Collapsible.Expanded) -> None:
        if event.collapsible is self and self.pending:
            pending, self.pending = self.pending, []
            await self.query_one(Collapsible.Contents).mount_all(pending)


def _named(value) -> tuple[str, dict]:
    value = {"name": value} if isinstance(value, str) else dict(value or {})
    return value.pop("name", "constant"), value


class TrainingPane(VerticalScroll):
    """How the model trains: every setting of the session that is neither data nor layers, in sections.

    The forms post their own ``OptionForm.Changed`` / ``NamedForm.Changed`` messages, which say where their values
    go in the session (``target``); ``load`` shows another session's values. Its widgets are made when it is first
    shown (``activate``).
    """

    def __init__(self, spec: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.ready = False

    def compose(self):
        if not self.ready:
            return
        spec = self.spec
        training = spec["training"]
        optimizer, opt_values = _named(spec["optimizer"])
        schedule, sched_values = _named(training["schedule"])
        stopping = training.get("early_stopping")
        yield Section(OptionForm(TOP, spec, target=""), title="session", collapsed=False, id="sec-session")
        yield Section(
            NamedForm(
                OPTIMIZER_CHOICES, optimizer, opt_values, target="optimizer", help="the update rule (torch.optim's)"
            ),
            title="optimizer",
            collapsed=False,
            id="sec-optimizer",
        )
        yield Section(
            OptionForm(LOOP, training, target="training"), title="training loop", collapsed=False, id="sec-loop"
        )
        yield Section(
            NamedForm(
                SCHEDULES,
                schedule,
                sched_values,
                target="training.schedule",
                help="the learning rate as a function of the epoch",
            ),
            title="learning-rate schedule",
            id="sec-schedule",
        )
        yield Section(
            OptionForm(REGULARIZATION, spec["regularization"], target="regularization"),
            Static("dropout and batchnorm are layers: add them to the stack", classes="field-help-static"),
            title="regularization",
            id="sec-regularization",
        )
        yield Section(
            NamedForm(
                EARLY_STOPPING_CHOICES,
                "off" if stopping is None else "on",
                stopping or {},
                target="training.early_stopping",
                off="off",
                named=False,
                help="stop when a metric stops improving",
            ),
            title="early stopping",
            id="sec-stopping",
        )
        yield Section(OptionForm(MONITOR, spec["monitor"], target="monitor"), title="monitor", id="sec-monitor")

    def on_mount(self) -> None:
        self.border_title = "training"

    async def activate(self, spec: dict) -> None:
        """Make the pane's widgets for the session ``spec`` (once: a hidden pane costs nothing to restyle)."""
        if not self.ready:
            self.ready = True
            await self.load(spec)

    async def load(self, spec: dict) -> None:
        """Show another session's settings."""
        self.spec = spec
        if self.ready:
            await self.recompose()

    def set_value(self, where: str, value) -> None:
        """Show a value the screen changed itself (the loss, when the data's task changed)."""
        for form in self.query(OptionForm).results(OptionForm):
            for f in form.fields:
                if f.where == where:
                    f.set_value(value)

    def show_error(self, message: str) -> bool:
        forms = list(self.query(OptionForm).results(OptionForm))
        return any(form.show_error(message) for form in forms)
