"""The terminal app: build, train and watch a network (Textual)."""

from __future__ import annotations

import gc


def run_app(session_path: str | None = None, *, session=None) -> None:
    """Open the app on a session file (or an already loaded ``session``); the default session when neither."""
    _run(session_path=session_path, session=session)


def open_replay(run_dir) -> None:
    """Open the app replaying a recorded run directory."""
    _run(replay_dir=run_dir)


def _run(session_path: str | None = None, session=None, replay_dir=None) -> None:
    gc.disable()  # until the first screen is drawn (DLLabApp.on_ready)
    try:
        from .app import make_app

        if session is None and session_path:
            from dl_lab.sessions import load_session

            session = load_session(session_path)
        make_app(session, replay_dir=replay_dir).run()
    finally:
        gc.enable()


__all__ = ["open_replay", "run_app"]
