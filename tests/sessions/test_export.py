"""dl-lab export --onnx / --torch (issue 16): real runs recorded in a temporary folder, one tiny run per model kind.

Each exported model is run on its run's validation inputs and compared with the engine's forward (+ softmax for
cross_entropy, sigmoid for bce, as the export documents), float32, to 1e-5: the ONNX model in onnxruntime when it
is importable and in onnx.reference always (the test id names the runtime); the PyTorch file in torch (skipped
without it). The generated Python passes ruff.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.core.layers import Layer
from dl_lab.sessions.export.onnx_export import ExportError, check_supported
from dl_lab.sessions.inspect.common import open_inspected

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5
NO_ONNX = "the ONNX export needs the onnx package (pip install 'dl-lab[export]')"

# One tiny run per model kind: (preset or session text, --set overrides).
RESIDUAL_CNN = """\
name: residual_cnn
seed: 5
data: {dataset: digits, samples: 300, normalize: standard, val_fraction: 0.2}
model:
  - conv2d: {filters: 4, kernel: 3, padding: same, activation: relu}
  - batchnorm: {}
  - residual: {layers: [{conv2d: {filters: 4, kernel: 3, padding: same, activation: relu}}, {batchnorm: {}},
                        {activation: {name: elu, alpha: 0.5}}, {conv2d: {filters: 4, kernel: 3, padding: same}}]}
  - conv2d: {filters: 6, kernel: 3, stride: 2, padding: same, activation: tanh}   # 8x8 -> 4x4: padding (0, 1)
  - avgpool2d: {size: 2}
  - flatten: {}
  - batchnorm: {momentum: 0.3}
  - residual: {layers: [{dense: {units: 24, activation: leaky_relu}}, {dense: {units: 24}}]}
  - activation: {name: softplus}
  - dropout: {p: 0.2}
  - dense: {units: 10}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 2, batch_size: 32}
"""
RUNS = {
    "digits_mlp": ("digits_mlp", ["training.epochs=1", "model[1].dense.units=16", "data.samples=300", "data.pca=12"]),
    "digits_cnn": (
        "digits_cnn",
        [
            "training.epochs=1",
            "data.samples=300",
            "model[0].conv2d.filters=4",
            "model[2].conv2d.filters=4",
            "model[5].dense.units=8",
        ],
    ),
    "xor": ("xor", ["training.epochs=20", "data.features=[x1, x2, x1*x2]"]),
    "residual_bn": (RESIDUAL_CNN, []),
    "sine": ("sine", ["training.epochs=1", "data.samples=100"]),
}
KINDS = list(RUNS)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """kind -> a run folder trained by `dl-lab run` (made on first use, once per module)."""
    root = tmp_path_factory.mktemp("export-runs")
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            session, sets = RUNS[kind]
            if "\n" in session:
                (root / f"{kind}.yaml").write_text(session, encoding="utf-8")
                session = str(root / f"{kind}.yaml")
            args = ["run", session, "--out", str(root / kind), "--quiet"]
            for s in sets:
                args += ["--set", s]
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.output
            made[kind] = root / kind
        return made[kind]

    return get


@pytest.fixture(scope="module")
def exported(recorded, tmp_path_factory):
    """kind -> (run folder, model.onnx, model.py), written by `dl-lab export RUN --onnx --torch` (no --onnx, and no
    ONNX file, without the onnx package: the ONNX tests are then skipped, the PyTorch ones still run)."""
    with_onnx = importlib.util.find_spec("onnx") is not None
    out = tmp_path_factory.mktemp("exported")
    made: dict[str, tuple[Path, Path, Path]] = {}

    def get(kind: str) -> tuple[Path, Path, Path]:
        if kind not in made:
            run = recorded(kind)
            onnx_file, torch_file = out / f"{kind}.onnx", out / f"{kind}_model.py"
            args = ["export", str(run), "--torch", str(torch_file)] + (["--onnx", str(onnx_file)] if with_onnx else [])
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.output
            made[kind] = (run, onnx_file, torch_file)
        return made[kind]

    return get


def engine_output(run: Path, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(validation inputs, the engine's forward + the documented output activation), float32."""
    ins = open_inspected(run)
    x, _ = ins.validation(n)
    out = np.asarray(ins.model.forward(x), dtype=np.float64)
    if ins.loss.name == "cross_entropy":
        e = np.exp(out - out.max(axis=1, keepdims=True))
        out = e / e.sum(axis=1, keepdims=True)
    elif ins.loss.name == "bce":
        out = 1.0 / (1.0 + np.exp(-out))
    return np.asarray(x, dtype=np.float32), out.astype(np.float32)


def _runtimes() -> list[str]:
    """onnx.reference always (it comes with onnx), onnxruntime too where it is installed: both are run."""
    names = ["onnx.reference"]
    if importlib.util.find_spec("onnxruntime") is not None:
        names.insert(0, "onnxruntime")
    return names


def run_onnx(runtime: str, path: Path, x: np.ndarray) -> np.ndarray:
    if runtime == "onnxruntime":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"input": x})[0]
    import onnx
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(onnx.load(str(path))).run(None, {"input": x})[0]


@pytest.mark.parametrize("runtime", _runtimes())
@pytest.mark.parametrize("kind", KINDS)
def test_onnx_equals_the_engine(exported, kind, runtime):
    onnx = pytest.importorskip("onnx", reason=NO_ONNX)

    run, onnx_file, _ = exported(kind)
    model = onnx.load(str(onnx_file))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17
    (dim, *_) = model.graph.input[0].type.tensor_type.shape.dim
    assert dim.dim_param == "N"  # a symbolic batch: run with two batch sizes
    x, want = engine_output(run)
    for rows in (x[:1], x):
        got = run_onnx(runtime, onnx_file, rows)
        assert got.dtype == np.float32 and got.shape == want[: len(rows)].shape
        err = float(np.abs(got - want[: len(rows)]).max())
        assert err <= TOLERANCE, f"{kind} in {runtime}: largest difference {err:.3g} with {len(rows)} rows"


def test_onnx_documents_input_output_and_preprocessing(exported):
    onnx = pytest.importorskip("onnx", reason=NO_ONNX)

    run, onnx_file, _ = exported("digits_cnn")
    model = onnx.load(str(onnx_file))
    ops = [n.op_type for n in model.graph.node]
    assert ops == [
        "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Softmax", "Identity"
    ]  # fmt: skip  # one node a name, as the report lists them
    assert "AFTER the run's preprocessing" in model.doc_string and "digits_cnn.onnx.preprocess.json" in model.doc_string
    assert "class probabilities" in model.doc_string
    pre = json.loads(onnx_file.with_name(onnx_file.name + ".preprocess.json").read_text())
    assert pre["input"] == {"name": "input", "shape": ["N", 1, 8, 8], "dtype": "float32", "layout": "NCHW"}
    assert pre["output"]["kind"] == "probabilities" and pre["output"]["activation"] == "softmax"
    assert pre["class_names"] == [str(d) for d in range(10)] and pre["pca"] is None
    # The record alone turns the stored pixels into the model's inputs.
    ins = open_inspected(run)
    norm = pre["normalization"]
    assert norm["method"] == "standard" and norm["axis"] == "channel"
    raw = ins.dataset.stored_inputs("val").astype(np.float64)
    mean, std = (np.asarray(norm[k]).reshape(1, -1, 1, 1) for k in ("mean", "std"))
    np.testing.assert_allclose((raw - mean) / std, ins.dataset.x_val, atol=1e-5)


def test_preprocessing_records_pca(exported):
    pytest.importorskip("onnx", reason=NO_ONNX)
    run, onnx_file, _ = exported("digits_mlp")
    pre = json.loads(onnx_file.with_name(onnx_file.name + ".preprocess.json").read_text())
    assert pre["input"] == {"name": "input", "shape": ["N", 12], "dtype": "float32", "layout": "features"}
    assert pre["raw_input_shape"] == [1, 8, 8] and [s.split(":")[0] for s in pre["steps"]] == [
        "normalize (standard)",
        "pca",
    ]
    ins = open_inspected(run)
    norm, pca = pre["normalization"], pre["pca"]
    raw = ins.dataset.stored_inputs("val").astype(np.float64)
    mean, std = (np.asarray(norm[k]).reshape(1, -1, 1, 1) for k in ("mean", "std"))
    flat = ((raw - mean) / std).reshape(len(raw), -1)
    projected = (flat - np.asarray(pca["mean"])) @ np.asarray(pca["vectors"]).T
    np.testing.assert_allclose(projected, ins.dataset.x_val, atol=1e-4)


def test_preprocessing_records_features_and_outputs(exported):
    pytest.importorskip("onnx", reason=NO_ONNX)
    _, xor_file, _ = exported("xor")
    xor = json.loads(xor_file.with_name(xor_file.name + ".preprocess.json").read_text())
    assert xor["playground_features"] == ["x1", "x2", "x1*x2"] and xor["input"]["shape"] == ["N", 3]
    assert xor["output"]["activation"] == "sigmoid" and xor["output"]["class"] == "1 if output > 0.5"
    _, sine_file, _ = exported("sine")
    sine = json.loads(sine_file.with_name(sine_file.name + ".preprocess.json").read_text())
    assert sine["output"]["kind"] == "values" and sine["output"]["activation"] == "none"
    assert sine["class_names"] is None


@pytest.fixture(scope="module")
def torch_module():
    pytest.importorskip("torch", reason="the generated PyTorch file is run only where torch is installed")

    def load(path: Path):
        spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.mark.parametrize("kind", KINDS)
def test_torch_file_equals_the_engine(exported, torch_module, kind):
    import torch

    run, _, torch_file = exported(kind)
    module = torch_module(torch_file)
    model = module.load(run / "checkpoints" / "final.npz")
    assert not model.training
    x, want = engine_output(run)
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    err = float(np.abs(got - want).max())
    assert err <= TOLERANCE, f"{kind} in torch: largest difference {err:.3g}"


@pytest.mark.parametrize("kind", ["digits_cnn", "residual_bn"])
def test_torch_file_passes_ruff(exported, kind):
    _, _, torch_file = exported(kind)
    config = str(REPO / "pyproject.toml")
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--no-cache", "--config", config, str(torch_file)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    head = torch_file.read_text().split('"""')[1]
    assert "Input: float32 tensor (N, " in head and "Output: (N, 10) class probabilities" in head


def test_cli_refusals(recorded, tmp_path, monkeypatch):
    run = recorded("xor")
    runner = CliRunner()
    (tmp_path / "taken.onnx").write_text("")
    taken = runner.invoke(app, ["export", str(run), "--onnx", str(tmp_path / "taken.onnx")])
    assert taken.exit_code == 2 and "exists; --force replaces it" in taken.output
    wrong = runner.invoke(app, ["export", str(run), "--torch", str(tmp_path / "m.py"), "--checkpoint", "epoch-99"])
    assert wrong.exit_code == 2 and "--checkpoint epoch-99: not in" in wrong.output
    two = runner.invoke(app, ["export", str(run), str(run), "--torch", str(tmp_path / "m.py")])
    assert two.exit_code == 2 and "export one run" in two.output
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the package were not installed
    missing = runner.invoke(app, ["export", str(run), "--onnx", str(tmp_path / "m.onnx")])
    assert missing.exit_code == 2 and "pip install 'dl-lab[export]'" in missing.output
    assert not (tmp_path / "m.onnx").exists()
    # The PyTorch file needs no onnx; an earlier checkpoint of the run loads into it too.
    fine = runner.invoke(app, ["export", str(run), "--torch", str(tmp_path / "m.py"), "--checkpoint", "initial"])
    assert fine.exit_code == 0, fine.output
    assert "checkpoints/initial.npz" in fine.output


def test_an_unknown_layer_is_named():
    class Mystery(Layer):
        kind = "mystery"

        def forward(self, x, training):
            return x

        def backward(self, dy):
            return dy

    with pytest.raises(ExportError, match=r"model\[3\]\.mystery: the mystery layer cannot be exported"):
        check_supported([Mystery("model[3].mystery")])


@pytest.mark.parametrize("kind", ["digits_cnn", "xor", "residual_bn"])
def test_onnx_equals_what_predict_gives(exported, kind):
    """The issue's check: the exported model's outputs equal `predict`'s probabilities (float32, 1e-5), on the
    validation split that `dl-lab predict RUN DATASET` reads (onnx.reference: it runs wherever onnx does)."""
    pytest.importorskip("onnx", reason=NO_ONNX)
    from dl_lab.sessions.export.predict import open_run_model, predict, read_data

    run, onnx_file, _ = exported(kind)
    ins = open_run_model(run)
    inputs = read_data(ins, ins.session.spec["data"]["dataset"])
    want = predict(ins, inputs).probabilities
    got = np.asarray(run_onnx("onnx.reference", onnx_file, inputs.x.astype(np.float32)), dtype=np.float64)
    if got.shape[1] == 1:  # a sigmoid output: predict lists both classes' probabilities
        got = np.concatenate([1.0 - got, got], axis=1)
    np.testing.assert_allclose(got, want, atol=TOLERANCE)
