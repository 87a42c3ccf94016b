"""Session files: the schema, YAML with line numbers, --set overrides, presets, and the typed session."""
