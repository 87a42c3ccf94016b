"""Training steps split into two halves of the batch, one thread each (core/parallel.py): the same maths as a whole
step (checked in float64 against whole steps), exactly reproducible, and only for models and steps that allow it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer, parallel
from dl_lab.core.blas import threads_local as blas_threads_local
from dl_lab.core.parallel import splittable

CNN = [
    {"conv2d": {"filters": 4, "kernel": 3, "padding": "same", "activation": "relu"}},
    {"maxpool2d": {"size": 2}},
    {"conv2d": {"filters": 6, "kernel": 3, "stride": 2, "activation": "tanh"}},
    {"flatten": {}},
    {"dense": {"units": 5, "activation": "softmax"}},  # fused into cross_entropy
]
RESIDUAL = [
    {"conv2d": {"filters": 4, "kernel": 3, "padding": "same", "activation": "relu"}},
    {"residual": {"layers": [{"conv2d": {"filters": 4, "kernel": 3, "padding": "same", "activation": "elu"}}]}},
    {"avgpool2d": {"size": 2}},
    {"flatten": {}},
    {"dense": {"units": 3}},
]
MLP = [{"dense": {"units": 16, "activation": "relu"}}, {"dense": {"units": 3}}]


@pytest.fixture
def always_split(monkeypatch):
    monkeypatch.setattr(parallel, "SPLIT_MIN_FLOPS", 0)
    monkeypatch.setattr(parallel, "SPLIT_MIN_BATCH", 2)


def _steps(specs, shape, classes, split, n=23, steps=4, dtype="float64", optimizer="adam", l2=0.0):
    rng = np.random.default_rng(5)
    loss = get_loss("cross_entropy")
    model = Sequential(specs, shape, dtype=dtype, seed=3, loss=loss)
    step = TrainStep(model, loss, make_optimizer({"name": optimizer, "lr": 0.01}), l2=l2, split=split)
    losses, outs = [], []
    for _ in range(steps):
        x = rng.standard_normal((n, *shape))
        y = rng.integers(0, classes, n)
        losses.append(float(step(x, y)))
        outs.append(np.asarray(step.out).copy())
    return step, losses, outs, np.asarray(model.params).copy()


@pytest.mark.parametrize(
    "specs, shape, classes", [(CNN, (2, 8, 8), 5), (RESIDUAL, (1, 6, 6), 3)], ids=["cnn", "residual"]
)
@pytest.mark.parametrize("n", [23, 24])  # halves of 12 and 11, and of 12 and 12
def test_a_split_step_is_the_whole_step_in_float64(always_split, specs, shape, classes, n):
    whole, wl, wo, wp = _steps(specs, shape, classes, split=False, n=n, l2=1e-3)
    split, sl, so, sp = _steps(specs, shape, classes, split=True, n=n, l2=1e-3)
    assert whole.halves is None and split.halves is not None and split.halves.replica is not None
    np.testing.assert_allclose(sl, wl, rtol=1e-12, atol=1e-14)  # the batch-mean loss, from two weighted means
    for a, b in zip(so, wo, strict=True):
        assert a.shape == (n, classes)  # the whole batch's outputs, in order (running accuracy reads them)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sp, wp, rtol=1e-10, atol=1e-12)  # four Adam steps on the combined gradient


@pytest.mark.parametrize("micro", [1, 3, 5])  # micro-batches of one sample, of 3 (and 2), of 5 (and 4 and 3)
@pytest.mark.parametrize(
    "specs, shape, classes", [(CNN, (2, 8, 8), 5), (RESIDUAL, (1, 6, 6), 3)], ids=["cnn", "residual"]
)
def test_halves_in_micro_batches_are_the_whole_step_in_float64(always_split, monkeypatch, specs, shape, classes, micro):
    model = Sequential(specs, shape, dtype="float64", seed=3)
    feet = [parallel.layer_footprint(layer) for layer in model.layers]
    largest = max(f.kept + f.scratch + f.work for f in feet)
    monkeypatch.setattr(parallel, "MICRO_BYTES", micro * 8 * largest)  # float64: 8 bytes a value
    _, wl, wo, wp = _steps(specs, shape, classes, split=False, n=23, l2=1e-3, optimizer="sgd")
    split, sl, so, sp = _steps(specs, shape, classes, split=True, n=23, l2=1e-3, optimizer="sgd")
    assert split.halves.micro == micro and len(split.halves._sums) == 2  # both halves summed micro-batches
    np.testing.assert_allclose(sl, wl, rtol=1e-12, atol=1e-14)
    for a, b in zip(so, wo, strict=True):
        assert a.shape == (23, classes)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sp, wp, rtol=1e-10, atol=1e-12)


def test_the_micro_batch_keeps_the_largest_layer_near_its_budget():
    cifar = [
        {"conv2d": {"filters": 32, "kernel": 3, "padding": 1, "activation": "relu"}},
        {"maxpool2d": {"size": 2}},
        {"conv2d": {"filters": 64, "kernel": 3, "padding": 1, "activation": "relu"}},
        {"maxpool2d": {"size": 2}},
        {"flatten": {}},
        {"dense": {"units": 10}},
    ]
    model = Sequential(cifar, (3, 32, 32), seed=0)
    # the second convolution: 16,384 kept + 158,080 scratch (im2col) + 40,960 work values, in float32
    assert parallel.micro_batch(model) == parallel.MICRO_BYTES // (4 * (16384 + 158080 + 40960)) == 19
    assert parallel.micro_batch(Sequential(MLP, (7,), seed=0)) > 10_000


def test_split_steps_repeat_bit_for_bit(always_split):
    a = _steps(CNN, (2, 8, 8), 5, split=True, dtype="float32")
    b = _steps(CNN, (2, 8, 8), 5, split=True, dtype="float32")
    assert a[1] == b[1] and np.array_equal(a[3], b[3])


def test_dense_models_and_models_that_couple_samples_or_draw_random_numbers_never_split(always_split):
    conv = {"conv2d": {"filters": 2, "kernel": 3}}
    assert splittable(Sequential([conv, {"flatten": {}}, {"dense": {"units": 2}}], (1, 5, 5), seed=0))
    for extra in ({"dropout": {"p": 0.5}}, {"batchnorm": {}}):
        model = Sequential([conv, extra, {"flatten": {}}, {"dense": {"units": 2}}], (1, 5, 5), seed=0)
        assert not splittable(model)
        step = TrainStep(model, get_loss("cross_entropy"), make_optimizer({"name": "sgd", "lr": 0.1}))
        assert step.halves is None
    same = {"conv2d": {"filters": 2, "kernel": 3, "padding": "same"}}
    nested = Sequential([conv, {"residual": {"layers": [same, {"dropout": {"p": 0.2}}]}}], (2, 5, 5))
    assert not splittable(nested)
    assert not splittable(Sequential(MLP, (7,), seed=0))  # its GEMMs share two BLAS threads well


def test_small_steps_and_monitored_steps_stay_whole():
    small = Sequential([{"conv2d": {"filters": 2, "kernel": 3}}, {"flatten": {}}, {"dense": {"units": 2}}], (1, 5, 5))
    step = TrainStep(small, get_loss("cross_entropy"), make_optimizer({"name": "sgd", "lr": 0.1}))
    assert step.halves is not None and not step.halves.worth(64)  # 0.3 kFLOP a sample: a hand-off costs more
    cnn = Sequential([*CNN[:-1], {"dense": {"units": 5}}], (3, 32, 32), seed=0)
    assert TrainStep(cnn, get_loss("cross_entropy"), make_optimizer({"name": "sgd", "lr": 0.1})).halves.worth(64)
    x, y = np.zeros((64, 3, 32, 32), np.float32), np.zeros(64, int)
    big = TrainStep(cnn, get_loss("cross_entropy"), make_optimizer({"name": "sgd", "lr": 0.1}))
    big(x, y, keep=True)  # the monitor wants every layer's output for the whole batch
    assert big.halves.replica is None and len(cnn.outputs) == len(cnn.layers)
    big(x, y)
    assert big.halves.replica is not None


def test_each_half_runs_on_one_blas_thread():
    before = blas_threads_local(1)
    assert before is not None and before >= 1  # NumPy's bundled OpenBLAS has the per-thread setter
    assert blas_threads_local(before) == 1
    seen = {}

    def probe():
        seen["old"] = blas_threads_local(1)
        seen["now"] = blas_threads_local(seen["old"])

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert seen["now"] == 1


def test_a_model_that_splits_steps_on_one_blas_thread_to_the_end_and_restores_the_count(always_split):
    # A BLAS call on two threads (the halves' sum, an SGD update) would wake OpenBLAS's worker, which then spins on
    # a core the next step's halves need.
    loss = get_loss("cross_entropy")
    model = Sequential(CNN, (2, 8, 8), seed=3, loss=loss)
    optimizer = make_optimizer({"name": "sgd", "lr": 0.01, "momentum": 0.9})
    seen = []
    update = optimizer.step

    def probe(p, g):
        count = blas_threads_local(1)
        blas_threads_local(count)
        seen.append(count)
        update(p, g)

    optimizer.step = probe
    step = TrainStep(model, loss, optimizer)
    before = blas_threads_local(2)
    try:
        x, y = np.zeros((16, 2, 8, 8), np.float32), np.zeros(16, int)
        step(x, y)
        assert step.halves.replica is not None and seen == [1]
        assert blas_threads_local(2) == 2  # restored after the step
        step(x, y, keep=True)  # a monitored step stays whole, on one BLAS thread too
        assert seen == [1, 1] and blas_threads_local(2) == 2
    finally:
        blas_threads_local(before)


@pytest.mark.parametrize("rows", [40, 7, 1])
def test_evaluation_of_a_split_model_runs_in_halves_and_gives_predict_batches_outputs(always_split, rows):
    from dl_lab.core import predict_batches

    loss = get_loss("cross_entropy")
    model = Sequential(CNN, (2, 8, 8), seed=3, dtype="float64", loss=loss)
    step = TrainStep(model, loss, make_optimizer({"name": "adam", "lr": 0.01}))
    x = np.random.default_rng(1).standard_normal((rows, 2, 8, 8))
    submitted = []
    _, pool = step.halves._start()
    submit = pool.submit
    pool.submit = lambda fn, *a: submitted.append(len(a[0])) or submit(fn, *a)
    out = np.asarray(step.predict(x, batch_size=16))
    assert out.shape == (rows, 5)
    np.testing.assert_allclose(out, np.asarray(predict_batches(model, x, 16)), rtol=1e-12, atol=1e-14)
    # batches of 16, 16 and 8 rows for 40: each run as two halves (the second half on the pool); one row stays whole
    assert submitted == {40: [8, 8, 4], 7: [3], 1: []}[rows]


def test_evaluation_in_micro_batches_gives_predict_batches_outputs(always_split, monkeypatch):
    from dl_lab.core import predict_batches

    loss = get_loss("cross_entropy")
    model = Sequential(CNN, (2, 8, 8), seed=3, dtype="float64", loss=loss)
    largest = max(
        parallel.layer_footprint(layer).eval_work + parallel.prod(layer.input_shape) + parallel.prod(layer.output_shape)
        for layer in model.layers
    )
    monkeypatch.setattr(parallel, "MICRO_BYTES", 3 * 8 * largest)  # three samples a half, in float64
    step = TrainStep(model, loss, make_optimizer({"name": "adam", "lr": 0.01}))
    assert step.halves.eval_micro == 3
    _, pool = step.halves._start()
    submitted = []
    submit = pool.submit
    pool.submit = lambda fn, *a: submitted.append(len(a[0])) or submit(fn, *a)
    x = np.random.default_rng(1).standard_normal((20, 2, 8, 8))
    np.testing.assert_allclose(step.predict(x), predict_batches(model, x), rtol=1e-12, atol=1e-14)
    assert submitted == [3, 3, 3, 1]  # batches of 6, 6, 6 and 2 rows, each in halves


@pytest.mark.parametrize(
    "n, micro, sizes", [(64, 19, [16] * 4), (50, 19, [10] * 5), (53, 19, [17, 18, 18]), (32, 70, [32])]
)
def test_micro_batches_are_of_one_size_where_a_divisor_allows(n, micro, sizes):
    # one size: the convolutions' scratch arrays, kept for one shape, are not allocated again between micro-batches
    k = parallel.micro_batches(n, micro)
    assert [n * (i + 1) // k - n * i // k for i in range(k)] == sizes
