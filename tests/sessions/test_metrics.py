"""Epoch metrics against values worked out by hand: running training means, accuracy, the confusion matrix,
precision and recall per class, MAE and R^2 (dl_lab.sessions.training.metrics).

Every expected number is derived in the comments next to it, never copied from a run of the code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dl_lab.core import get_backend, get_loss
from dl_lab.datasets.dataset import Dataset
from dl_lab.sessions import EpochEnded, StepEnded, Trainer
from dl_lab.sessions.training.metrics import SAMPLE_COUNT, EpochTotals, confusion_matrix, evaluate

NUMPY = get_backend("numpy")


def dataset(y_train, y_val, classes: int | None = None) -> Dataset:
    """A real Dataset holding just these targets (the metrics read y_train, y_val and num_classes)."""
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    task = "classification" if classes else "regression"
    if task == "regression":
        y_train, y_val = y_train.reshape(len(y_train), -1), y_val.reshape(len(y_val), -1)
    return Dataset(
        name="hand",
        task=task,
        inputs={"train": np.zeros((len(y_train), 1)), "val": np.zeros((len(y_val), 1))},
        targets={"train": y_train, "val": y_val},
        normalization={"method": "none"},
        dtype="float64",
        options={},
        source="test",
        class_names=[f"c{i}" for i in range(classes)] if classes else None,
    )


def logits_for(pred, k: int, margin: float = 5.0) -> np.ndarray:
    """Logits that predict ``pred``: ``margin`` at the predicted class, 0 elsewhere."""
    out = np.zeros((len(pred), k))
    out[np.arange(len(pred)), pred] = margin
    return out


def cross_entropy_of(pred, true, k: int, margin: float = 5.0) -> float:
    """Mean -log softmax at the true class for ``logits_for(pred)``: log(e^m + k - 1) - (m if right else 0)."""
    logsum = math.log(math.exp(margin) + k - 1)
    return sum(logsum - (margin if p == t else 0.0) for p, t in zip(pred, true, strict=True)) / len(true)


# --- the confusion matrix ------------------------------------------------------------------------


def test_the_confusion_matrix_has_true_classes_as_rows_and_predictions_as_columns():
    # Two samples of class 0 predicted as 2, one of class 2 predicted as 1, one class-1 sample right:
    # cm[true, pred] counts, so cm[0, 2] = 2, cm[2, 1] = 1, cm[1, 1] = 1; the transpose would put 2 at cm[2, 0].
    true = np.array([0, 0, 2, 1])
    pred = np.array([2, 2, 1, 1])
    expected = np.array(
        [
            [0, 0, 2],  # true 0: both predicted 2
            [0, 1, 0],  # true 1: predicted 1
            [0, 1, 0],  # true 2: predicted 1
        ]
    )
    assert confusion_matrix(pred, true, 3).tolist() == expected.tolist()


def test_the_confusion_matrix_counts_every_pair_like_a_plain_loop():
    rng = np.random.default_rng(0)
    true, pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    counted = np.zeros((4, 4), dtype=int)
    for t, p in zip(true, pred, strict=True):
        counted[t, p] += 1
    assert np.array_equal(confusion_matrix(pred, true, 4), counted)


# --- validation metrics for classification -------------------------------------------------------


def test_validation_metrics_of_three_classes_match_the_hand_count():
    # sample:  0  1  2  3  4  5
    # true:    0  0  1  1  2  2
    # pred:    0  1  1  1  0  2
    # right:   y  n  y  y  n  y   -> 4 of 6 right; wrong: sample 1 (0 taken for 1), sample 4 (2 taken for 0)
    true = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 0, 2]
    ds = dataset([0, 1, 2], true, classes=3)
    m = evaluate(get_loss("cross_entropy"), logits_for(pred, 3), np.array(true), NUMPY, ds)

    # rows = true class, columns = predicted class
    assert m["confusion"] == [
        [1, 1, 0],  # true 0: sample 0 -> 0, sample 1 -> 1
        [0, 2, 0],  # true 1: samples 2, 3 -> 1
        [1, 0, 1],  # true 2: sample 4 -> 0, sample 5 -> 2
    ]
    assert m["val_acc"] == pytest.approx(4 / 6)
    # precision = TP / (TP + FP), per predicted column:
    #   class 0 predicted for samples 0, 4: TP 1 (sample 0), FP 1 (sample 4) -> 1/2
    #   class 1 predicted for samples 1, 2, 3: TP 2, FP 1 (sample 1)          -> 2/3
    #   class 2 predicted for sample 5: TP 1, FP 0                             -> 1
    assert m["precision"] == pytest.approx([1 / 2, 2 / 3, 1.0], abs=1e-4)  # the module rounds to 4 decimals
    # recall = TP / (TP + FN), per true row:
    #   class 0 (samples 0, 1): TP 1, FN 1 -> 1/2
    #   class 1 (samples 2, 3): TP 2, FN 0 -> 1
    #   class 2 (samples 4, 5): TP 1, FN 1 -> 1/2
    assert m["recall"] == pytest.approx([1 / 2, 1.0, 1 / 2], abs=1e-4)
    # cross-entropy with logits 5 at the prediction: log(e^5 + 2) - 5 when right, log(e^5 + 2) when wrong
    assert m["val_loss"] == pytest.approx(cross_entropy_of(pred, true, 3), rel=1e-9)
    # the mistakes (samples 1 and 4) first, then the right ones, in validation order
    assert m["samples"] == {
        "indices": [1, 4, 0, 2, 3, 5],
        "predicted": [pred[i] for i in (1, 4, 0, 2, 3, 5)],
        "true": [true[i] for i in (1, 4, 0, 2, 3, 5)],
    }


def test_a_class_never_predicted_gets_precision_zero_not_nan():
    # true: 0 1 2 2 ; pred: 0 1 1 1 -> class 2 is never predicted, so its precision 0/0 is undefined.
    # class 1 predicted for samples 1, 2, 3: TP 1, FP 2 -> precision 1/3, recall 1/1.
    # class 2 (samples 2, 3): TP 0, FN 2 -> recall 0.
    true, pred = [0, 1, 2, 2], [0, 1, 1, 1]
    m = evaluate(get_loss("cross_entropy"), logits_for(pred, 3), np.array(true), NUMPY, dataset([0], true, classes=3))
    assert m["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 2, 0]]
    assert [row[2] for row in m["confusion"]] == [0, 0, 0]  # nothing in the "predicted 2" column
    assert m["precision"] == pytest.approx([1.0, 1 / 3, 0.0], abs=1e-4)
    assert m["recall"] == pytest.approx([1.0, 1.0, 0.0], abs=1e-4)
    assert all(math.isfinite(v) for v in m["precision"] + m["recall"])


def test_a_class_absent_from_the_data_has_an_empty_row_and_finite_scores():
    # 4 classes; class 2 never occurs and is never predicted; class 3 never occurs but is predicted once.
    # true: 0 0 1 1 ; pred: 0 1 1 3
    # class 0: predicted for sample 0 -> precision 1/1; true samples 0, 1 -> recall 1/2
    # class 1: predicted for samples 1, 2 -> TP 1 (sample 2) -> precision 1/2; true samples 2, 3 -> recall 1/2
    # class 2: 0/0 for both -> 0 (the module's convention for undefined)
    # class 3: predicted for sample 3, wrongly -> precision 0/1 = 0; no true samples -> recall 0/0 -> 0
    true, pred = [0, 0, 1, 1], [0, 1, 1, 3]
    m = evaluate(get_loss("cross_entropy"), logits_for(pred, 4), np.array(true), NUMPY, dataset([0], true, classes=4))
    assert m["confusion"] == [[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert m["precision"] == pytest.approx([1.0, 0.5, 0.0, 0.0], abs=1e-4)
    assert m["recall"] == pytest.approx([0.5, 0.5, 0.0, 0.0], abs=1e-4)
    assert m["val_acc"] == pytest.approx(2 / 4)


def test_binary_classification_with_one_logit_predicts_class_one_for_a_positive_score():
    # bce: one logit s per sample; predicted class = 1 when s > 0 (s = 0 counts as class 0).
    # sample:  0     1     2     3     4
    # s:       2.0  -1.0   0.5  -3.0   0.0
    # pred:    1     0     1     0     0
    # true:    1     0     0     1     1
    # right:   y     y     n     n     n   -> accuracy 2/5
    s = np.array([[2.0], [-1.0], [0.5], [-3.0], [0.0]])
    true = [1, 0, 0, 1, 1]
    m = evaluate(get_loss("bce"), s, np.array(true), NUMPY, dataset([0, 1], true, classes=2))
    # predicted 1, 0, 1, 0, 0 in order; listed mistakes first (samples 2, 3, 4), then the right ones (0, 1)
    assert m["samples"]["indices"] == [2, 3, 4, 0, 1]
    assert m["samples"]["predicted"] == [1, 0, 0, 1, 0]
    assert m["confusion"] == [
        [1, 1],  # true 0 (samples 1, 2): 1 -> 0, 2 -> 1
        [2, 1],  # true 1 (samples 0, 3, 4): 3 and 4 -> 0, 0 -> 1
    ]
    assert m["val_acc"] == pytest.approx(2 / 5)
    # class 0 predicted for 1, 3, 4: TP 1 -> 1/3; class 1 predicted for 0, 2: TP 1 -> 1/2
    assert m["precision"] == pytest.approx([1 / 3, 1 / 2], abs=1e-4)
    # class 0 true for 1, 2: TP 1 -> 1/2; class 1 true for 0, 3, 4: TP 1 -> 1/3
    assert m["recall"] == pytest.approx([1 / 2, 1 / 3], abs=1e-4)
    # binary cross-entropy: -log sigmoid(s) = log(1 + e^-s) when t = 1, -log(1 - sigmoid(s)) = log(1 + e^s) when 0
    per_sample = [math.log1p(math.exp(-v if t else v)) for v, t in zip(s[:, 0], true, strict=True)]
    assert m["val_loss"] == pytest.approx(sum(per_sample) / 5, rel=1e-9)


def test_only_the_first_samples_are_listed_with_their_labels():
    n = SAMPLE_COUNT + 4
    true = np.arange(n) % 3
    pred = (np.arange(n) + 1) % 3  # every prediction wrong
    m = evaluate(get_loss("cross_entropy"), logits_for(pred, 3), true, NUMPY, dataset([0], true, classes=3))
    assert m["samples"]["indices"] == list(range(SAMPLE_COUNT))
    assert m["samples"]["predicted"] == pred[:SAMPLE_COUNT].tolist()
    assert m["samples"]["true"] == true[:SAMPLE_COUNT].tolist()
    assert m["val_acc"] == 0.0 and np.trace(np.array(m["confusion"])) == 0


def test_the_mistakes_are_listed_first_then_the_right_ones():
    n = SAMPLE_COUNT + 10
    true = np.arange(n) % 3
    pred = true.copy()
    wrong = [5, 17, n - 1]  # the last one would be left out if samples were listed in order
    pred[wrong] = (true[wrong] + 1) % 3
    m = evaluate(get_loss("cross_entropy"), logits_for(pred, 3), true, NUMPY, dataset([0], true, classes=3))
    right = [i for i in range(n) if i not in wrong]
    assert m["samples"]["indices"] == (wrong + right)[:SAMPLE_COUNT]
    assert m["samples"]["predicted"] == pred[(wrong + right)[:SAMPLE_COUNT]].tolist()
    assert m["samples"]["true"] == true[(wrong + right)[:SAMPLE_COUNT]].tolist()


# --- validation metrics for regression -----------------------------------------------------------

Y = np.array([1.0, 2.0, 3.0, 6.0])  # mean 3; SS_tot = (1-3)^2 + (2-3)^2 + 0 + (6-3)^2 = 4 + 1 + 0 + 9 = 14


def regression(out, y=Y):
    y = np.asarray(y, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64).reshape(len(y), -1)
    return evaluate(get_loss("mse"), out, y.reshape(out.shape), NUMPY, dataset(y, y))


def test_a_perfect_fit_has_r2_one_and_no_error():
    m = regression(Y)
    assert m["val_r2"] == 1.0 and m["val_mae"] == 0.0 and m["val_loss"] == 0.0
    assert set(m) == {"val_loss", "val_mae", "val_r2"}  # no accuracy or confusion matrix for regression


def test_predicting_the_mean_has_r2_zero():
    # out = 3 everywhere: errors -2, -1, 0, 3 -> SS_res = 4 + 1 + 0 + 9 = 14 = SS_tot -> R^2 = 1 - 14/14 = 0
    # MAE = (2 + 1 + 0 + 3) / 4 = 1.5 ; MSE = 14 / 4 = 3.5
    m = regression([3.0, 3.0, 3.0, 3.0])
    assert m["val_r2"] == pytest.approx(0.0, abs=1e-12)
    assert m["val_mae"] == pytest.approx(1.5)
    assert m["val_loss"] == pytest.approx(3.5)


def test_a_fit_worse_than_the_mean_has_negative_r2():
    # out = Y reversed = 6, 3, 2, 1: errors 5, 1, -1, -5 -> SS_res = 25 + 1 + 1 + 25 = 52
    # R^2 = 1 - 52/14 = -38/14 = -19/7 ; MAE = (5 + 1 + 1 + 5) / 4 = 3 ; MSE = 52 / 4 = 13
    m = regression([6.0, 3.0, 2.0, 1.0])
    assert m["val_r2"] == pytest.approx(-19 / 7)
    assert m["val_mae"] == pytest.approx(3.0)
    assert m["val_loss"] == pytest.approx(13.0)


def test_r2_of_several_outputs_uses_each_columns_own_mean():
    # y columns: [0, 2] (mean 1) and [10, 20] (mean 15): SS_tot = (1 + 1) + (25 + 25) = 52.
    # (One mean over all four values, 8, would give SS_tot = 64 + 36 + 4 + 144 = 248.)
    # out = [[1, 10], [2, 15]]: errors [1, 0], [0, -5] -> SS_res = 1 + 25 = 26 -> R^2 = 1 - 26/52 = 0.5
    # MAE over all 4 elements = (1 + 0 + 0 + 5) / 4 = 1.5
    y = np.array([[0.0, 10.0], [2.0, 20.0]])
    m = regression([[1.0, 10.0], [2.0, 15.0]], y)
    assert m["val_r2"] == pytest.approx(0.5)
    assert m["val_mae"] == pytest.approx(1.5)


def test_r2_of_constant_targets_is_finite():
    # SS_tot = 0: R^2 is undefined; the module must not divide by zero.
    m = regression([2.0, 2.0, 2.0], y=[2.0, 2.0, 2.0])
    assert math.isfinite(m["val_r2"]) and m["val_mae"] == 0.0


# --- running training totals ---------------------------------------------------------------------


def test_training_loss_and_accuracy_are_means_over_samples_not_over_batches():
    loss = get_loss("cross_entropy")
    totals = EpochTotals()
    # batch A: 4 samples, batch-mean loss 1.0, predictions 0 1 2 0 against 0 1 2 1 -> 3 right
    totals.add(loss, logits_for([0, 1, 2, 0], 3), np.array([0, 1, 2, 1]), 1.0, 4)
    # batch B: 2 samples, batch-mean loss 4.0, predictions 1 1 against 0 2 -> 0 right
    totals.add(loss, logits_for([1, 1], 3), np.array([0, 2]), 4.0, 2)
    result = totals.result(loss, dataset([0], [0], classes=3))
    # loss = (4 * 1.0 + 2 * 4.0) / 6 = 12/6 = 2.0 (a mean of the batch means would say 2.5)
    # accuracy = 3 / 6 = 0.5 (a mean of the batch accuracies would say (3/4 + 0) / 2 = 0.375)
    assert result == {"loss": pytest.approx(2.0), "acc": pytest.approx(0.5)}
    assert (totals.n, totals.correct) == (6, 3)


def test_training_accuracy_with_one_logit_counts_positive_scores_as_class_one():
    loss = get_loss("bce")
    totals = EpochTotals()
    # scores 1.5, -0.2, 0.0 -> predicted 1, 0, 0; true 1, 1, 0 -> samples 0 and 2 right
    totals.add(loss, np.array([[1.5], [-0.2], [0.0]]), np.array([1, 1, 0]), 0.7, 3)
    assert totals.result(loss, dataset([0], [0], classes=2))["acc"] == pytest.approx(2 / 3)


def test_training_mae_and_r2_accumulate_over_batches_of_different_sizes():
    loss = get_loss("mse")
    totals = EpochTotals()
    # batch A: out 1, 2, 3 against 1, 1, 5 -> errors 0, 1, -2: |e| sum 3, e^2 sum 5
    totals.add(loss, np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 1.0, 5.0]), 5 / 3, 3)
    # batch B: out 0, 4 against 1, 4 -> errors -1, 0: |e| sum 1, e^2 sum 1 (targets given as a column)
    totals.add(loss, np.array([[0.0], [4.0]]), np.array([[1.0], [4.0]]), 1 / 2, 2)
    # the epoch saw y_train = 1, 1, 5, 1, 4: mean 12/5 = 2.4
    # SS_tot = 3 * (1 - 2.4)^2 + (5 - 2.4)^2 + (4 - 2.4)^2 = 3 * 1.96 + 6.76 + 2.56 = 15.2
    # R^2 = 1 - 6 / 15.2 = 1 - 15/38 = 23/38 ; MAE = (3 + 1) / 5 = 0.8
    # loss = (3 * 5/3 + 2 * 1/2) / 5 = (5 + 1) / 5 = 1.2 (= SS_res / 5, the MSE over the epoch)
    result = totals.result(loss, dataset([1.0, 1.0, 5.0, 1.0, 4.0], [0.0]))
    assert result["mae"] == pytest.approx(0.8)
    assert result["r2"] == pytest.approx(23 / 38)
    assert result["loss"] == pytest.approx(1.2)
    assert "acc" not in result


def test_training_mae_and_r2_of_several_outputs_count_elements_and_use_each_columns_mean():
    loss = get_loss("mse")
    totals = EpochTotals()
    # y_train rows [0, 10], [2, 20]: column means 1 and 15 -> SS_tot = (1 + 1) + (25 + 25) = 52
    # batch A: out [1, 10] against [0, 10] -> errors 1, 0 ; batch B: out [2, 15] against [2, 20] -> errors 0, -5
    totals.add(loss, np.array([[1.0, 10.0]]), np.array([[0.0, 10.0]]), 0.5, 1)
    totals.add(loss, np.array([[2.0, 15.0]]), np.array([[2.0, 20.0]]), 12.5, 1)
    result = totals.result(loss, dataset([[0.0, 10.0], [2.0, 20.0]], [[0.0, 0.0]]))
    # MAE over the 4 elements (not the 2 samples): (1 + 0 + 0 + 5) / 4 = 1.5 ; R^2 = 1 - (1 + 25) / 52 = 0.5
    assert result["mae"] == pytest.approx(1.5)
    assert result["r2"] == pytest.approx(0.5)


def test_totals_saved_mid_epoch_continue_to_the_same_result():
    loss = get_loss("cross_entropy")
    batches = [
        (logits_for([0, 1], 2), np.array([0, 0]), 0.9, 2),
        (logits_for([1, 1, 0], 2), np.array([1, 1, 0]), 0.1, 3),
    ]
    whole = EpochTotals()
    for b in batches:
        whole.add(loss, *b)
    first = EpochTotals()
    first.add(loss, *batches[0])
    resumed = EpochTotals.from_dict(first.to_dict())
    resumed.add(loss, *batches[1])
    ds = dataset([0], [0], classes=2)
    # (2 * 0.9 + 3 * 0.1) / 5 = 2.1 / 5 = 0.42 ; right: 1 of the first batch + 3 of the second = 4 / 5
    assert resumed.result(loss, ds) == whole.result(loss, ds) == {"loss": pytest.approx(0.42), "acc": 0.8}
    assert EpochTotals.from_dict({}) == EpochTotals()


def test_an_epoch_reports_the_sample_weighted_mean_of_its_step_losses(small_session):
    # 120 circle samples, 20% validation -> 96 training samples; batches of 20 -> 20, 20, 20, 20, 16
    events = list(Trainer(small_session(training__epochs=1, training__batch_size=20)).run())
    losses = [e.loss for e in events if isinstance(e, StepEnded)]
    sizes = [20, 20, 20, 20, 16]
    assert len(losses) == len(sizes)
    epoch = next(e for e in events if isinstance(e, EpochEnded))
    expected = sum(v * n for v, n in zip(losses, sizes, strict=True)) / 96
    assert epoch.train_loss == pytest.approx(expected, rel=1e-9)
    assert epoch.train_loss != pytest.approx(sum(losses) / len(losses), rel=1e-9)  # the batches are unequal
