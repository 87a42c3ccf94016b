"""Training a session: building it, the trainer's event stream, monitoring, and the workers that drive a run."""
