"""Inside a trained network (issue 13's views), computed from a recorded run without any UI: each view module
has ``compute(inspected, **options) -> dict`` of JSON-ready numbers, its keys documented in its docstring."""
