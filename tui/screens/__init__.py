"""The screens of the lab: build, train, runs and replay."""
