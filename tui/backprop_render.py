"""The backprop walk's pictures (`dl-lab backprop` and the app's backprop screen): the network drawn as columns of
nodes with the current one highlighted, and the steps as "node = formula = numbers = value" lines, as Rich text.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dl_lab.sessions.inspect.backprop import fmt as number_text

PHASES = ("forward", "backward", "update")
PHASE_TITLES = {
    "forward": "forward: each node from its inputs",
    "backward": "backward: local derivatives and the chain rule, back to every parameter",
    "update": "update: one step of the optimizer",
}
PHASE_STYLES = {"forward": "cyan", "backward": "magenta", "update": "green"}
CURRENT = "bold black on yellow"  # the current node and step, in any terminal


def fmt(value) -> str:
    """A step's value: a number as the slides print it, or a tensor's shape and norm."""
    if isinstance(value, dict):
        shape = "×".join(str(n) for n in value.get("shape", []))
        return f"{shape} ‖·‖ {_num(value.get('norm'))}"
    return _num(value)


def _num(value) -> str:
    """A number as the walk writes them (sessions/inspect/backprop.fmt); None (a non-finite value) as nan."""
    if value is None:
        return "nan"
    return value if isinstance(value, str) else number_text(value)


def step_text(step: dict, *, current: bool = False) -> Text:
    """One step on one line: ``z1 = w1·x + b1 = 5·3 + 0 = 15`` (the node, its rule, the numbers, the value)."""
    text = Text(no_wrap=False)
    style = CURRENT if current else ""
    node = step["node"]
    formula = step["formula"]
    rule = formula.split(" = ", 1)[1] if formula.startswith(f"{node} = ") else formula
    if node.endswith(" ←"):
        text.append(node[:-2], style=f"bold {style}".strip())
        text.append(" ← ", style=style)
        text.append(rule.split(" ← ", 1)[-1], style=style)
    else:
        text.append(node, style=f"bold {style}".strip())
        if rule != node:
            text.append(" = ", style=style)
            text.append(rule, style=style)
    if step.get("numbers") and step["numbers"] != fmt(step["value"]):
        text.append(" = ", style=style)
        text.append(step["numbers"], style=f"{style} dim" if not current else style)
    if isinstance(step["value"], dict):  # a tensor: the numbers are its summary already
        return text
    text.append(" = ", style=style)
    text.append(fmt(step["value"]), style=f"bold {PHASE_STYLES.get(step['phase'], '')} {style}".strip())
    return text


def _chips(walk: dict, current: int | None) -> Text:
    """A large network as a wrapping chain of layers: ``x 1×8×8 → conv2d 16×8×8 → … → L 2.26``."""
    steps = walk["steps"]
    focus = steps[current] if current is not None and 0 <= current < len(steps) else None
    known = values_at(walk, current if current is not None else len(steps) - 1)
    text = Text()
    for i, column in enumerate(walk["columns"]):
        layer = column["layer"]
        label = column["label"].split(" ", 1)[-1] if layer not in (-1, None) else ("x" if layer == -1 else "L")
        value = known.get((layer, None)) if layer is not None else known.get((None, 0))
        if isinstance(value, dict):  # no spaces: a chip never wraps inside
            label += "(" + "×".join(str(n) for n in value["shape"][1:]) + ")"
        elif value is not None:
            label += "=" + fmt(value)
        lit = focus is not None and focus["layer"] == layer
        if i:
            text.append(" → ", style="dim")
        text.append(f"[{layer}]" if layer not in (-1, None) else "", style="dim")
        text.append(label, style=CURRENT if lit else "")
    return text


def values_at(walk: dict, upto: int, *, named: bool = False) -> dict:
    """The value each drawn node has once the steps up to ``upto`` are done (forward values; L); ``named``: with
    the name of the step that gave it ((name, value): a dense unit is z1 until its activation makes it a1)."""
    known: dict = {}
    for step in walk["steps"][: upto + 1]:
        if step["phase"] == "forward":
            known[(step["layer"], step["unit"])] = (step["node"], step["value"]) if named else step["value"]
    return known


def network(walk: dict, current: int | None = None, width: int = 100) -> Text:
    """The network as columns: the input, each layer's units (their latest value), the loss. The node the current
    step is about is highlighted, its layer's title too."""
    if walk["mode"] == "tensors":
        return _chips(walk, current)
    steps = walk["steps"]
    focus = steps[current] if current is not None and 0 <= current < len(steps) else None
    known = values_at(walk, current if current is not None else len(steps) - 1, named=True)
    columns = walk["columns"]
    drawn = {name for column in columns for name in column["nodes"]}
    grads = {}  # the gradient ∂L/∂node of each drawn node, once the walk has reached it
    for step in steps[: (current if current is not None else len(steps) - 1) + 1]:
        if step["phase"] == "backward" and step["node"].startswith("∂L/∂") and step["node"][4:] in drawn:
            grads[step["node"][4:]] = step["value"]
    cells: list[list[tuple[str, str]]] = []
    titles: list[tuple[str, str]] = []
    for column in columns:
        layer = column["layer"]
        lit = focus is not None and focus["layer"] == layer
        titles.append((column["label"], "bold underline" if lit else "dim"))
        rows = []
        nodes = column["nodes"]
        shown = nodes if len(nodes) <= 8 else [*nodes[:7], f"+{len(nodes) - 7} more"]
        for j, name in enumerate(shown):
            got = known.get((layer if layer is not None else None, j if layer is not None else 0))
            label = name if got is None or name.startswith("+") else f"{got[0]} {fmt(got[1])}"
            if name in grads:
                label += f" ∇{fmt(grads[name])}"
            here = focus is not None and focus["layer"] == layer and (focus["unit"] in (j, None) or layer is None)
            rows.append((f"({label})", CURRENT if here else ""))
        cells.append(rows)
    widths = [max(len(t), *(len(c) for c, _ in col)) for (t, _), col in zip(titles, cells, strict=True)]
    arrow = " → "
    while sum(widths) + len(arrow) * (len(widths) - 1) > width and max(widths) > 8:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    text = Text()
    for i, (title, style) in enumerate(titles):
        text.append(title[: widths[i]].center(widths[i]), style=style)
        if i < len(titles) - 1:
            text.append(" " * len(arrow))
    height = max(len(c) for c in cells)
    for r in range(height):
        text.append("\n")
        for i, col in enumerate(cells):
            if r < len(col):
                label, style = col[r]
                text.append(label[: widths[i]].center(widths[i]), style=style)
            else:
                text.append(" " * widths[i])
            if i < len(cells) - 1:
                text.append(arrow if r == 0 else " " * len(arrow), style="dim")
    return text


def header(walk: dict) -> Text:
    x = walk["x"]
    shown_x = ", ".join(_num(v) for v in x[:8]) + (", …" if len(x) > 8 else "")
    opt = walk["optimizer"]
    text = Text()
    text.append(f"training sample {walk['sample']}: ", style="bold")
    y = walk["y"]
    shown_y = f"[{', '.join(_num(v) for v in y)}]" if isinstance(y, list) else _num(y)
    text.append(f"x = [{shown_x}], y = {shown_y}; loss {walk['loss']}, optimizer {opt.get('name')} lr {opt.get('lr')}")
    if walk["mode"] == "tensors":
        text.append("  (per tensor: shape, norm ‖·‖ and the first entries)", style="dim")
    return text


def render(walk: dict, width: int = 100) -> RenderableType:
    """The whole walk for the terminal: the network, then every step by phase."""
    parts: list[RenderableType] = [header(walk), Text(), network(walk, None, width), Text()]
    for phase in PHASES:
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
        table.add_column("n", justify="right", style="dim", no_wrap=True)
        table.add_column("step", overflow="fold")
        for n, step in enumerate(walk["steps"], start=1):
            if step["phase"] == phase:
                table.add_row(str(n), step_text(step))
        if table.row_count:
            parts.append(Text(PHASE_TITLES[phase], style=f"bold {PHASE_STYLES[phase]}"))
            parts.append(table)
            parts.append(Text())
    return Group(*parts)
