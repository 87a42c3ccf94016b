"""The terminal app: build, train and watch a network (Textual)."""
