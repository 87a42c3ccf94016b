"""The training screen: start, pause, step and stop a run of the current session and watch every pane live."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from dl_lab.sessions.config.naming import session_run_name
from dl_lab.sessions.events import RunFailed
from dl_lab.sessions.runs.directory import new_run_dir, open_run
from dl_lab.sessions.runs.state import RunState
from dl_lab.sessions.training.controller import make_controller
from dl_lab.sessions.training.live import LiveModel, default_pace, faster, pace_label, slower
from dl_lab.sessions.training.pacer import Pacer
from dl_lab.tui.dialogs.prompt import ValuePrompt
from dl_lab.tui.panes.network import NetworkPane
from dl_lab.tui.panes.run_view import NETWORK_BINDINGS, PANE_BINDINGS, PaneActions, RunView
from dl_lab.tui.panes.status import SHORT_FAILURE_BELOW, failure_text, live_status, set_short, show_health
from dl_lab.tui.pictures import SAVE_PICTURES, PictureActions, panes_in_view
from dl_lab.tui.widgets.footer import LabFooter

from ..messages import Outbox, RunEventsReceived, TrainingCrashed

STOP_TIMEOUT_S = 30  # closing the app waits this long for the worker's checkpoint
REDRAW_S = 0.1  # how often the screen checks whether a redraw is due (see Pacer)
FRAME_S = 0.1  # a paced run's pictures are redrawn this often
PACED_BUDGET = 0.5  # the UI's CPU share while a paced run trains (it waits between batches most of the time)
LR_LADDER = [k * 10.0**e for e in range(-6, 2) for k in (1, 3)]  # Playground's rates: 1e-6, 3e-6 ... 10, 30
_sources = itertools.count(1)
UNSET = object()  # no pace chosen with the keys yet: each run gets its default (default_pace)


def advised_lr(failed: RunFailed) -> float | None:
    """The learning rate a diverged run's first remedy advises ("lower optimizer.lr to 0.1 ..."), if it names one."""
    import re

    for advice in failed.advice[:1]:
        found = re.search(r"optimizer\.lr to ([0-9][0-9.eE+-]*)", advice)
        if found:
            try:
                return float(found.group(1).rstrip("."))
            except ValueError:
                return None
    return None


def next_lr(lr: float, up: bool) -> float:
    """The next learning rate on the 1-3-10 ladder above (or below) ``lr``."""
    if up:
        return next((v for v in LR_LADDER if v > lr * 1.0001), LR_LADDER[-1])
    return next((v for v in reversed(LR_LADDER) if v < lr * 0.9999), LR_LADDER[0])


class TrainScreen(PictureActions, PaneActions, Screen):
    """Trains ``app.session`` off the UI thread (a child process, or a thread: ``make_controller``), recorded to a
    run folder, and shows it as it learns."""

    CSS_PATH = "train.tcss"
    DEFAULT_CSS = """
    TrainScreen #build-error {
        height: auto;
        padding: 0 1;
        border: round $warning;
        color: $text-warning;
        background: $warning-muted;
    }
    """
    # `?` lists the keys, each a line of its description and tooltip ("Step one batch"), which is also its title in
    # the command palette (tui/commands.py).
    PALETTE_GROUP = "Training"  # the palette's titles: "Training: step one batch"
    NOT_IN_PALETTE = {"run", "pause"}  # space's two faces: the palette has "Training: start / pause" (toggle)
    BINDINGS = [
        # one of the two space keys is shown: Run while the run does not run, Pause while it does
        # with an error on the build screen, space refuses once and says so; space again trains the last valid model
        Binding("space", "run", "Run", tooltip="(with an error on the build screen: twice trains the last valid one)"),
        Binding("space", "pause", "Pause"),
        Binding("s,n", "step", "Step", tooltip="one batch"),
        Binding("x", "stop", "Stop", tooltip="and save a checkpoint"),
        Binding("R", "reset", "Reset", tooltip="to a fresh model"),
        Binding("plus,equals_sign", "lr(1)", "Learning rate up", key_display="+", show=False),
        Binding("minus", "lr(-1)", "Learning rate down", key_display="-", show=False),
        Binding("l", "type_lr", "Set lr", tooltip="by typing a learning rate"),
        Binding("comma", "pace(-1)", "Slower", tooltip="fewer steps a second (the pace is on the status line)"),
        Binding("full_stop", "pace(1)", "Faster", tooltip="more steps a second, up to full speed"),
        Binding("f", "full_speed", "Full speed", tooltip="or back to the pace", show=False),
        Binding("g", "regenerate", "New data", tooltip="regenerate the points (a new data seed) and start over"),
        Binding("N", "data_option('noise')", "Noise", tooltip="of the generated points, then start over", show=False),
        Binding(
            "H", "data_option('val_fraction')", "Validation share", tooltip="held out, then start over", show=False
        ),
        Binding("t", "features", "Input features", tooltip="Playground's (x1, x2, x1^2, sin(x1)...), then start over"),
        Binding("escape", "leave_network", "Boundary", tooltip="again, not the network's chosen neuron", show=False),
        Binding("e", "edit_parameter", "Edit weight", tooltip="the network pane's chosen weight or bias", show=False),
        *PANE_BINDINGS,
        *NETWORK_BINDINGS,
        SAVE_PICTURES,
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.controller = None  # a ProcessController or a TrainingController: the same controls
        self._shown_running = False  # which of space's bindings the footer shows
        self.session = None
        self.app_session = None  # the app's session when the controller was asked for (a change re-prepares)
        self._pending_resume: Path | None = None  # a stopped run to load once the screen is mounted
        self._own_session = False  # the session trained here is a recorded run's, not the app's (build screen's)
        self._preparing_what = ""  # what the controller on its way runs, for a failure to name
        self.state = RunState()
        self.source = 0
        self.preparing = False
        self._start_when_ready = False
        self._dirty = False
        self.pacer = Pacer()
        self.outbox: Outbox | None = None
        self.live_model: LiveModel | None = None  # the run's model here, drawn from the weights it sends
        self.chosen_pace: object = UNSET  # a pace chosen with the keys: kept for the next runs, as Playground does
        self._full_speed_from: float | None = None  # f goes back to this pace

    def compose(self):
        yield Static(id="status")
        yield Static(id="health")  # what the run's health watch found (diagnosis events)
        yield Static(id="failure")
        yield Static(id="build-error", markup=False)  # a run refused: the build screen's draft has an error
        yield RunView()
        yield LabFooter()

    def on_mount(self) -> None:
        self.query_one("#failure").display = False
        self.query_one("#build-error").display = False
        self.query_one("#health").display = False
        self.set_interval(REDRAW_S, self.redraw)
        if self._pending_resume is not None:
            run_dir, self._pending_resume = self._pending_resume, None
            self.resume_run(run_dir)
        elif not self.preparing and self.controller is None:
            self.prepare()

    def on_unmount(self) -> None:
        """The app is closing: stop the run between two batches so that its checkpoint is written."""
        self._release()
        if self.controller is not None and self.controller.alive:
            self.controller.join(STOP_TIMEOUT_S)

    def on_screen_resume(self) -> None:
        self.query_one("#build-error").display = False  # back from the build screen: its error is asked anew
        if self.app_session is not None and self.app_session is not self.app.session:
            if self.controller is None or self.controller.state in ("idle", "finished"):
                self.prepare()
            else:
                self.notify("The session changed: press R to reset and train the new one.")

    # --- the controller --------------------------------------------------------------------------
    @property
    def run_state(self) -> str:
        if self.preparing:
            return "preparing"
        return self.controller.state if self.controller else "idle"

    def _release(self, controller=None) -> None:
        """Let a controller go: its run stops (saving a checkpoint), an idle worker process ends."""
        c = controller or self.controller
        if c is not None and c.state != "finished":
            c.stop()

    def prepare(self, session=None) -> None:
        """Build a fresh controller for ``session`` (default: ``app.session``) off the UI thread (loading data and
        starting the worker process take a while)."""
        if self.controller is not None and self.controller.state == "idle":
            self._release()
        self.app_session = self.app.session
        self.session = session or self.app.session
        self._own_session = session is not None
        self._preparing_what = self.session.name
        self._begin_preparing()
        self.run_worker(
            self._make_controller(self.session, self.source),
            thread=True,
            exclusive=True,
            group="prepare",
            exit_on_error=False,
            name="prepare",
        )

    def _begin_preparing(self) -> None:
        self.source = next(_sources)
        self.preparing = True
        self.state = RunState()
        self.query_one("#failure").display = False
        self._dirty = True

    def resume_run(self, run_dir: Path) -> None:
        """Load the stopped run in ``run_dir`` (its recorded session, its curves so far, the panes where it
        stopped): space continues it in its own folder, holding its lock, as `dl-lab run --resume` does."""
        if not self.is_mounted:
            self._pending_resume = Path(run_dir)
            return
        c = self.controller
        if c is not None and c.state in ("running", "paused"):
            self.notify("A run is training here: stop it (x) before resuming another.", severity="warning")
            return
        if c is not None and c.state == "idle":
            self._release()
        self.controller = self.app.controller = None
        self.app_session = self.app.session
        self._preparing_what = f"the run {Path(run_dir).name}"
        self._begin_preparing()
        self.run_worker(
            self._make_resumed(Path(run_dir), self.source),
            thread=True,
            exclusive=True,
            group="prepare",
            exit_on_error=False,
            name="prepare",
        )

    def _make_resumed(self, run_dir: Path, source: int):
        make_fresh = self._make_controller(None, source)

        def make():
            from dl_lab.sessions.training.loop import resumed_session

            session = resumed_session(run_dir)
            recorded = open_run(run_dir).events()  # the curves so far
            _, (controller, _, live) = make_fresh(session, resume_dir=run_dir)
            return source, (controller, recorded, live)

        return make

    def _make_controller(self, session, source: int):
        self.outbox = outbox = Outbox(self, source)

        def on_event(event) -> None:  # the training thread, or the thread reading the worker process's events
            if isinstance(event, BaseException):
                self.post_message(TrainingCrashed(event, source))
            else:
                outbox.put(event)

        def make(session=session, **kwargs):
            from dl_lab.sessions.training.build import load_dataset

            dataset = load_dataset(session, progress=False)
            controller = make_controller(session, on_event, dataset=dataset, **kwargs)
            # a copy of a small model here, loaded with the weights the run sends: the pictures follow them
            weights = controller.initial_weights()
            live = LiveModel(session, dataset) if weights is not None else None
            if live is not None:
                live.load(weights)  # the untrained network's pictures, before the first step (as Playground)
            return source, (controller, [], live)

        return make

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "prepare":
            return
        event.stop()  # handled here (the app would notify a second time)
        if event.state == WorkerState.SUCCESS:
            source, controller = event.worker.result
            if source == self.source:
                self._install(controller)
            else:  # superseded while it was prepared
                self._release(controller[0])
        elif event.state == WorkerState.ERROR:
            self.preparing = False
            self.state.crash = f"could not prepare {self._preparing_what}: {event.worker.error}"
            self.app.notify(str(event.worker.error), title="Session not ready", severity="error", timeout=8)
            self._show_failure()

    def _install(self, prepared) -> None:
        """Show the prepared run: (controller, the recorded events of a stopped run it continues, a LiveModel)."""
        controller, recorded, live = prepared
        if controller.resume_dir is not None:  # a stopped run to continue, and its recorded events
            self.session = controller.session
            self._own_session = True
        self.controller = controller
        self.app.controller = controller
        self.preparing = False
        started = controller.started()
        self.state = RunState(started)
        for event in recorded:
            self.state.apply(event)
        self.state.started = started  # where it goes on from
        self.live_model = live  # None: a model too large to watch live (it trains at full speed)
        if live is not None:
            self.state.apply(live.weights)
        self.query_one(RunView).configure(controller.dataset, started, live, self.session)
        pictured = live is not None and live.kind is not None
        if self.chosen_pace is UNSET:
            controller.set_pace(default_pace(started, pictured))
        else:
            controller.set_pace(self.chosen_pace)
        for warning in started.warnings:  # a setup that trains, but not as meant (batchnorm on one sample, memory)
            self.app.notify(warning, title="Before you train", severity="warning", timeout=15)
        self._dirty = True
        if self._start_when_ready:
            self._start_when_ready = False
            self._start()

    def _start(self, paused: bool = False) -> None:
        c = self.controller
        if getattr(c, "resume_dir", None) is None:  # a resumed run goes on in its own folder
            c.run_dir = new_run_dir(session_run_name(self.session), self.app.runs_root)  # after what it trains
        # measured from the start of the run, not from the screen's own start-up; a paced run redraws at frames
        self.pacer = Pacer() if c.pace is None else Pacer(PACED_BUDGET, fastest=FRAME_S)
        c.start(paused=paused)
        self._dirty = True

    # --- events from the training thread ---------------------------------------------------------
    def on_run_events_received(self, message: RunEventsReceived) -> None:
        if message.source != self.source:
            return  # a run that was reset
        for event in self.outbox.take(message):
            self.state.apply(event)
        self._dirty = True
        end = self.state.end
        if isinstance(end, RunFailed):
            self._show_failure()
        if end is not None:
            self.redraw(now=True)  # the last picture of a run never waits for the pacer

    def on_training_crashed(self, message: TrainingCrashed) -> None:
        if message.source != self.source:
            return
        error = message.error
        self.state.crash = f"{type(error).__name__}: {error}"
        self.app.notify(self.state.crash, title="Training stopped", severity="error", timeout=10)
        self._show_failure()
        self._dirty = True

    def _show_failure(self) -> None:
        failure = self.query_one("#failure", Static)
        end = self.state.end if isinstance(self.state.end, RunFailed) else None
        short = self.size.height < SHORT_FAILURE_BELOW  # the panes keep their room on a small terminal
        failure.update(failure_text(end, self.state.crash, live=True, short=short))
        set_short(failure, short)
        failure.display = True

    def redraw(self, now: bool = False) -> None:
        """The status line at every tick (it is cheap); the panes when the pacer says so, or ``now``."""
        if not self._dirty:
            return
        lr = self.controller.lr if self.controller else None
        run_dir = self.controller.run_dir if self.controller and self.controller.state != "idle" else None
        if (self.run_state == "running") != self._shown_running:  # Run <-> Pause in the footer
            self._shown_running = not self._shown_running
            self.refresh_bindings()
        status = self.query_one("#status", Static)
        width = status.content_size.width or None  # before the first layout: everything, cut by the ellipsis
        pace = self.controller.pace if self.controller else None
        label = pace_label(pace) if self.controller and self.live_model is not None else None
        status.update(
            live_status(self.state, self.run_state, lr, run_dir, width, pace=label, steps_per_s=pace), layout=False
        )
        show_health(self.query_one("#health", Static), self.state)
        if now or self.pacer.due():
            # one pane per redraw while training at full speed: short pauses of the event loop rather than one long
            # one; a paced run leaves the UI time enough to redraw every pane at each frame
            everything = now or pace is not None
            if self.query_one(RunView).show(self.state, everything=everything):
                self.pacer.drawn()
            else:
                self._dirty = False

    def pictures(self):
        return panes_in_view(self)

    def pictures_run(self) -> Path | None:
        """The run being trained (its folder is made when it starts): ctrl+s saves into its pictures/ folder."""
        c = self.controller
        run_dir = c.run_dir if c is not None and c.state != "idle" else None
        return Path(run_dir) if run_dir is not None and Path(run_dir).is_dir() else None

    # --- actions ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters) -> bool:
        """Space is Run or Pause, as the run stands (the footer shows the one that applies)."""
        if action in ("run", "pause"):
            return (self.run_state == "running") == (action == "pause")
        return True

    def action_run(self) -> None:
        self.action_toggle()

    def action_pause(self) -> None:
        self.action_toggle()

    def _build_error(self) -> str | None:
        """Why the build screen's draft is not the app's session (None: it is, or there is no build screen)."""
        try:
            stack = self.app.get_screen_stack("build")
        except KeyError:
            return None
        return next((s.draft_error for s in stack if hasattr(s, "draft_error")), None)

    def _refused(self) -> bool:
        """A run is about to start: with an error on the build screen, refuse the first time and say why in the
        banner; while the banner shows, the key again trains the last valid session, the app's."""
        banner = self.query_one("#build-error", Static)
        error = self._build_error()
        if error is None or banner.display:
            banner.display = False
            return False
        banner.update(
            f"✗ the model on the build screen has an error: {error}; fix it (1) or press space again to train "
            f"the last valid model ({self.app.session.name})"
        )
        banner.display = True
        return True

    def action_toggle(self) -> None:
        c = self.controller
        if (self.preparing or c is None or c.state in ("idle", "finished")) and self._refused():
            return
        if self.preparing:  # the controller on its way starts as soon as it is ready
            self._start_when_ready = True
        elif c is None:  # preparing it failed: try again
            self._start_when_ready = True
            self.prepare()
        elif c.state == "idle":
            self._start()
        elif c.state == "running":
            c.pause()
        elif c.state == "paused":
            c.resume()
        else:  # finished: a new run of the same session (a resumed run's own, not the build screen's)
            self._start_when_ready = True
            self.prepare(self.session if self._own_session else None)
        self._dirty = True

    def action_step(self) -> None:
        c = self.controller
        if c is None or c.state == "finished":
            self.notify("Nothing to step: press space to start, or R to reset.")
            return
        if c.state == "idle":
            if self._refused():
                return
            self._start(paused=True)
        c.step()
        self._dirty = True

    def action_stop(self) -> None:
        c = self.controller
        if c is None or c.state in ("idle", "finished"):
            return
        c.stop()
        self.notify(
            f"Stopping: a checkpoint is saved in {c.run_dir}/checkpoints/last.npz; `dl-lab run --resume "
            f"{c.run_dir}` continues the run, space here starts a new one",
            timeout=8,
        )

    def action_reset(self) -> None:
        self._release()
        self.controller = self.app.controller = None
        self.query_one(RunView).show(RunState())
        self.prepare(self.session if self._own_session else None)

    def action_lr(self, direction: int) -> None:
        if self.controller is None:
            return
        self._set_lr(next_lr(self.controller.lr, direction > 0))

    def action_pace(self, direction: int) -> None:
        """Slower or faster (slow motion, Playground's frame pace, ..., full speed); kept for the next runs."""
        c = self.controller
        if c is None or self.live_model is None:
            self.notify("This model trains at full speed (too large to watch step by step).", timeout=3)
            return
        self._set_pace(faster(c.pace) if direction > 0 else slower(c.pace))

    def action_full_speed(self) -> None:
        """Full speed, or back to the pace it left."""
        c = self.controller
        if c is None or self.live_model is None:
            return
        if c.pace is None:
            self._set_pace(self._full_speed_from or slower(None))
        else:
            self._full_speed_from = c.pace
            self._set_pace(None)

    def _set_pace(self, rate: float | None) -> None:
        self.chosen_pace = rate
        self.controller.set_pace(rate)
        self.pacer = Pacer() if rate is None else Pacer(PACED_BUDGET, fastest=FRAME_S)
        self._dirty = True

    def _data_session(self, option: str, value) -> bool:
        """The session trained here with ``data.<option>`` set (the app's too, unless the run is a recorded one's),
        then a fresh run of it, as Playground's data controls start over. False (and a message) if it is invalid."""
        base = self.session if self._own_session else self.app.session
        try:
            changed = base.with_overrides([f"data.{option}={value!r}"])
            changed.config  # noqa: B018  (validates the data options)
        except Exception as exc:
            self.notify(str(exc), title=f"data.{option}", severity="error", timeout=8)
            return False
        if self._own_session:
            self.session = changed
        else:
            self.app.session = changed
        self._release()
        self.controller = self.app.controller = None
        self.query_one(RunView).show(RunState())
        self.prepare(changed if self._own_session else None)
        return True

    def action_regenerate(self) -> None:
        """New points from the same distribution (data.seed one on), and a fresh run on them."""
        session = self.session if self._own_session else self.app.session
        seed = session.config.data.get("seed")
        seed = (session.config.seed if seed is None else int(seed)) + 1
        if self._data_session("seed", seed):
            self.notify(f"new data (data.seed {seed}), a fresh model", timeout=3)

    def action_data_option(self, option: str) -> None:
        session = self.session if self._own_session else self.app.session
        current = session.config.data.get(option)
        label = {"noise": "Noise", "val_fraction": "Validation share (0 to 1)"}.get(option, option)

        def done(value: str | None) -> None:
            if not value:
                return
            try:
                number = float(value)
            except ValueError:
                self.notify(f"data.{option}: expected a number, got {value!r}", severity="warning")
                return
            if self._data_session(option, number):
                self.notify(f"data.{option} = {number:g}, a fresh model", timeout=3)

        self.app.push_screen(ValuePrompt(label, "" if current is None else f"{current:g}"), done)

    def action_features(self) -> None:
        """The network's input features (2-D data): typed as a list, as the network pane's input column shows them."""
        from dl_lab.datasets.features import DEFAULT_FEATURES, FEATURES

        c = self.controller
        if c is None or getattr(c.dataset, "points_2d", None) is None:
            self.notify("Input features are Playground's, for the 2-D data sets (spiral, circle, xor...).")
            return
        session = self.session if self._own_session else self.app.session
        current = session.config.data.get("features") or list(DEFAULT_FEATURES)

        def done(value: str | None) -> None:
            if value and self._data_session("features", [part.strip() for part in value.split(",") if part.strip()]):
                self.notify(f"input features: {value}, a fresh model", timeout=3)

        question = f"Input features, comma-separated (of {', '.join(FEATURES)})"
        self.app.push_screen(ValuePrompt(question, ", ".join(current)), done)

    def action_edit_parameter(self) -> None:
        """Set the chosen link's weight (or the chosen neuron's bias) by hand, in a paused run (Playground's)."""
        c = self.controller
        network = self.query_one(NetworkPane)
        found = network.parameter(self.state) if c is not None else None
        if found is None or self.state.live is None:
            self.notify("Choose a link (arrows, then w) or a neuron in the network pane to edit its weight or bias.")
            return
        if c.state == "finished":
            self.notify("The run has ended: R prepares a fresh one, whose weights e edits before space.")
            return
        if c.state != "paused" and c.state != "idle":
            self.notify("Pause the run (space) to edit a weight.", severity="warning")
            return
        _, index, name = found

        def done(value: str | None) -> None:
            try:
                number = float(value) if value else None
            except ValueError:
                number = None
            if number is None or not math.isfinite(number):
                if value:
                    self.notify(f"{name}: expected a number, got {value!r}", severity="warning")
                return
            where = "recorded in the run's edits.jsonl" if c.state == "paused" else "the run starts from it"
            c.set_parameter(index, number, name)
            self.notify(f"{name} = {number:g} ({where})", timeout=3)

        current = float(self.state.live.params[index])
        self.app.push_screen(ValuePrompt(name, f"{current:.6g}"), done)

    def action_type_lr(self) -> None:
        if self.controller is None:
            return

        def done(value: str | None) -> None:
            try:
                lr = float(value) if value else None
            except ValueError:
                lr = None
            if lr is None or not lr > 0:
                if value:
                    self.notify(f"learning rate: expected a positive number, got {value!r}", severity="warning")
                return
            self._set_lr(lr)

        advised = advised_lr(self.state.end) if isinstance(self.state.end, RunFailed) else None
        value = advised if advised is not None else self.controller.lr
        self.app.push_screen(ValuePrompt("Learning rate", f"{value:g}"), done)

    def _set_lr(self, lr: float) -> None:
        """The run's rate from its next batch, and the session's (the next run and the build screen keep it,
        as TensorFlow Playground does; ctrl+s on the build screen saves it). A resumed run's rate is its own."""
        self.controller.set_lr(lr)
        if self._own_session:
            self.session = self.session.with_overrides([f"optimizer.lr={lr!r}"])
            self.notify(f"learning rate {lr:g} for this run (the build screen's session keeps its own)", timeout=2)
            self._dirty = True
            return
        before = self.app.session
        self.app.session = before.with_overrides([f"optimizer.lr={lr!r}"])  # a positive float: always valid
        if self.app_session is before:
            self.app_session = self.app.session
        if self.session is before:
            self.session = self.app.session  # the same session, its rate changed: coming back must not re-prepare
        self.notify(f"learning rate {lr:g} (kept for the next run)", timeout=2)
        self._dirty = True
