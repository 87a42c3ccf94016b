"""`dl-lab export RUN_DIR --onnx FILE` and `--torch FILE.py`: a trained run as a model for other tools.

The models themselves are built in sessions/export/ (onnx_export.py, torch_export.py); this module checks the
files, opens the run at its checkpoint and says what was written. The onnx package is imported only when an ONNX
model is asked for.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from dl_lab.sessions.export.onnx_export import ExportError, import_onnx, preprocess_path

from .render import console


def _check_out(path: Path, force: bool, option: str) -> None:
    if path.is_dir():
        raise ExportError(f"{option} {path}: a folder; give a file name")
    if not path.parent.is_dir():
        raise ExportError(f"{option} {path}: no folder {path.parent}")
    if path.exists() and not force:
        raise ExportError(f"{option} {path}: exists; --force replaces it")


def export_model(
    run_dir: Path, onnx: Path | None, torch: Path | None, checkpoint: str | None = None, force: bool = False
) -> None:
    """Write the run's model as ONNX (and its preprocessing record beside it) and/or as a PyTorch module file."""
    from dl_lab.sessions.inspect.common import open_inspected

    if onnx is not None:
        _check_out(onnx, force, "--onnx")
        _check_out(preprocess_path(onnx), force, "--onnx")
        import_onnx()  # before any work: a missing package says how to install it
    if torch is not None:
        _check_out(torch, force, "--torch")
        if torch.suffix != ".py":
            raise ExportError(f"--torch {torch}: expected a Python file name ending in .py")
    if onnx is not None and torch is not None and onnx.resolve() == torch.resolve():
        raise ExportError(f"--onnx and --torch: the same file {onnx}")
    inspected = open_inspected(run_dir, checkpoint)
    if onnx is not None:
        from dl_lab.sessions.export.onnx_export import OPSET, export_onnx

        done = export_onnx(inspected, onnx)
        console().print(
            f"wrote {escape(str(onnx))} (ONNX opset {OPSET}, {len(done.nodes)} nodes, "
            f"checkpoint {inspected.checkpoint})",
            soft_wrap=True,  # paths whole, on one line, at any terminal width
        )
        console().print(f"wrote {escape(str(done.preprocess))} (the preprocessing its input needs)", soft_wrap=True)
    if torch is not None:
        from dl_lab.sessions.export.torch_export import export_torch

        export_torch(inspected, torch)
        console().print(
            f"wrote {escape(str(torch))} (PyTorch module: load(npz_path) with "
            f"{escape(str(run_dir))}/checkpoints/{inspected.checkpoint}.npz)",
            soft_wrap=True,
        )
