"""Recorded runs: writing and reading run directories, resuming, and a run's state rebuilt from its events."""
