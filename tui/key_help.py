"""`?`: the key help panel, the screen's own keys first, with the run panes' terms under them where runs show.

Its own module: Textual's HelpPanel brings its Markdown widget (and the Markdown parser), which the app's first
screen does not need; the app imports this when `?` is first pressed."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import HelpPanel, KeyPanel, Markdown, Static
from textual.widgets._key_panel import BindingsTable

from .screens.replay import ReplayScreen
from .screens.train import TrainScreen

# `?` on the training and replay screens: the run panes' terms, a line each, kept in view under the keys (short:
# the key help is 30 columns wide at 80).
GLOSSARY = """\
[b]‖W‖[/] weights' size (L2 norm)
[b]‖∇W‖[/] gradient's size (0: none flows)
[b]update/weight[/] (upd) a step's change ÷ ‖W‖; ~1e-3 is healthy
[b]dead units[/] ReLUs giving 0 on every sample
[b]sat[/] tanh/sigmoid units stuck at their limits
[b]μ σ[/] mean and spread (standard deviation)
[b]network[/] a neuron's map: its output over the plane
[b]∇ Δ[/] a weight's gradient, its last update
[b]PC 1, 2[/] the layer's two main directions (PCA)"""


def textual_actions(cls) -> set[str]:
    """The actions that Textual's own classes among ``cls``'s bases bind (focus_next, copy, scroll_up...)."""
    return {
        (b.action if isinstance(b, Binding) else b[1])
        for base in cls.__mro__
        if base.__module__.startswith("textual.")
        for b in base.__dict__.get("BINDINGS", ())
    }


class ScreenFirstBindings(BindingsTable):
    """The key table of `?`: the screen's own keys first, then the app's and the focused widget's; Textual's generic
    ones (focus, copy, cursor, page and scroll keys, which every screen has) are left out, so that a screen's keys
    show at 80x24."""

    def render_bindings_table(self):
        from rich import box
        from rich.table import Table
        from rich.text import Text

        screen, app = self.screen, self.app

        def rank(node) -> int:
            return 0 if node is screen else 1 if node is app else 2

        titles = {0: "", 1: "anywhere", 2: "here"}  # the screen's own first, under no title
        groups: dict[int, dict[str, list]] = {}
        for node, binding, _enabled, _tooltip in screen.active_bindings.values():
            if not binding.system and binding.action not in textual_actions(type(node)):
                groups.setdefault(rank(node), {}).setdefault(binding.action, []).append(binding)
        table = Table(padding=(0, 0), show_header=False, box=box.SIMPLE)
        table.add_column("", justify="right")
        key_style = self.get_component_rich_style("bindings-table--key")
        header_style = self.get_component_rich_style("bindings-table--header")
        for group in sorted(groups):
            if titles[group]:
                table.add_row("", Text(titles[group], style=header_style, end=""))
            for bindings in groups[group].values():
                keys = " ".join(dict.fromkeys(app.get_key_display(b) for b in bindings))
                text = Text(bindings[0].description, end="")
                if bindings[0].tooltip:
                    text.append(f" {bindings[0].tooltip}", "dim")
                table.add_row(Text(keys, style=key_style), text)
            table.add_section()
        return table


class ScreenFirstKeys(KeyPanel):
    def compose(self):
        yield ScreenFirstBindings(shrink=True, expand=False)


class KeyHelp(HelpPanel):
    """`?`: the focused widget's help, the keys (the screen's first) and, where runs show, the panes' terms under
    them (the keys scroll; the terms stay in view)."""

    DEFAULT_CSS = """
    KeyHelp #glossary {
        height: auto;
        max-height: 60%;
        border-top: solid $foreground 30%;
        color: $text-muted;
    }
    """

    def compose(self):
        yield Markdown(id="widget-help")
        yield ScreenFirstKeys(id="keys-help")
        if isinstance(self.screen, (TrainScreen, ReplayScreen)):
            yield Static(GLOSSARY, id="glossary")
