"""Modal dialogs of the lab: pick from a list, edit a layer, ask for a path or a value."""
