"""fit's workflow: validation and best-epoch restore, early stopping, checkpoints and resume,
reproducibility, Ctrl-C and divergence keeping good weights, progress output."""
import logging

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from passage.layers import Dense, Embedding, GatedRecurrent
from passage.models import RNN, NotBuiltError
from passage.updates import SGD, Adam

# One compiled shape per model keeps these tests fast: sequences of 3 to 8 ids (one length bucket),
# 128 of them in batches of 32 (96 + 32 with validation_split=0.25), validation sets of 32.
N_TRAIN = 128


def data(n=N_TRAIN, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    X = [[1 + int(y)] + rng.integers(3, 20, rng.integers(2, 8)).tolist() for y in labels]
    return X, labels


def model(seed=3, updater=None, **kwargs):
    layers = [Embedding(8, 20), GatedRecurrent(8, p_drop=0.3), Dense(1, activation="sigmoid", p_drop=0.2)]
    return RNN(layers, updater=updater or Adam(lr=0.01), seed=seed, verbose=0, **kwargs)


def scripted(scores):
    """A metric that returns ``scores`` in order, one per epoch: makes the best epoch known in advance."""
    scores = iter(scores)

    def scripted_score(y_true, y_pred):
        return next(scores)
    return scripted_score


def trained_plainly(X, Y, n_epochs):
    """The same model trained for ``n_epochs`` with no validation, checkpoint or interruption."""
    plain = model()
    plain.fit(X, Y, batch_size=32, n_epochs=n_epochs)
    return plain


def assert_same_weights(a, b, **tolerance):
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for name in wa:
        assert_allclose(wa[name], wb[name], err_msg=name, **tolerance)


def test_the_same_seed_gives_identical_weights_and_another_seed_does_not():
    X, Y = data()
    a, b, c = model(seed=5), model(seed=5), model(seed=6)
    for m in (a, b, c):
        m.fit(X, Y, batch_size=32, n_epochs=2)
    assert_same_weights(a, b, rtol=0, atol=0)
    assert not np.allclose(a.get_weights()["1/W"], c.get_weights()["1/W"])


def test_validation_keeps_the_earliest_best_epoch():
    X, Y = data()
    valX, valY = data(32, seed=1)
    trained = model()
    history = trained.fit(X, Y, batch_size=32, n_epochs=4, validation_data=(valX, valY),
                          metric=scripted([0.5, 0.9, 0.9, 0.6]))
    assert [round(h["val_scripted_score"], 1) for h in history] == [0.5, 0.9, 0.9, 0.6]
    assert all({"epoch", "cost", "seconds", "val_loss"} <= set(h) for h in history)
    assert_same_weights(trained, trained_plainly(X, Y, 2), rtol=1e-6, atol=1e-7)


def test_restore_best_false_keeps_the_last_epoch():
    X, Y = data()
    last = model()
    last.fit(X, Y, batch_size=32, n_epochs=3, validation_data=data(32, 1), metric=scripted([0.9, 0.1, 0.1]),
             restore_best=False)
    assert_same_weights(last, trained_plainly(X, Y, 3), rtol=1e-6, atol=1e-7)


def test_patience_stops_after_epochs_without_improvement():
    X, Y = data()
    history = model().fit(X, Y, batch_size=32, n_epochs=10, validation_data=data(32, 1),
                          metric=scripted([0.5, 0.8, 0.7, 0.8, 0.9, 1.0]), patience=2)
    assert len(history) == 4


def test_validation_split_holds_out_that_fraction_and_scores_builtin_metrics():
    X, Y = data()
    sizes = []

    def count(y_true, y_pred):
        sizes.append((len(y_true), len(y_pred)))
        return 0.0

    model().fit(X, Y, batch_size=32, n_epochs=1, validation_split=0.25, metric=count)
    assert sizes == [(32, 32)]
    valX, valY = data(32, 1)
    for metric in ("auc", "accuracy", "loss"):
        trained = model()
        history = trained.fit(X, Y, batch_size=32, n_epochs=1, validation_data=(valX, valY), metric=metric)
        P = trained.predict(valX)[:, 0].astype(np.float64)
        expected = {"auc": roc_auc_score(valY, P), "accuracy": accuracy_score(valY, P > 0.5),
                    "loss": log_loss(valY, P)}[metric]
        assert history[0][f"val_{metric}"] == pytest.approx(expected, rel=1e-4)
        assert history[0]["val_loss"] == pytest.approx(log_loss(valY, P), rel=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({"patience": 2}, "need validation data"),
    ({"metric": "auc"}, "need validation data"),
    ({"validation_split": 0.1, "metric": "f1"}, "unknown metric 'f1'"),
    ({"validation_split": 1.5}, "fraction in \\(0, 1\\)"),
    ({"validation_data": ([[1, 2]], [0, 1])}, "validation Y has 2 rows but validation X has 1"),
    ({"validation_data": [[1, 2]]}, "pair \\(X, Y\\)"),
    ({"validation_data": ([[1]], [1]), "validation_split": 0.1}, "not both"),
])
def test_bad_validation_settings_get_a_clear_error(kwargs, message):
    X, Y = data()
    with pytest.raises(ValueError, match=message):
        model().fit(X, Y, **kwargs)


def test_epoch_size_makes_each_epoch_pass_over_small_data_several_times(caplog):
    X, Y = data()
    passes = model()
    passes.verbose = 1
    with caplog.at_level(logging.INFO, logger="passage"):
        history = passes.fit(X, Y, batch_size=32, n_epochs=1, epoch_size=3 * N_TRAIN - 1)  # rounds up to 3 passes
    assert len(history) == 1
    assert "passes over the 128 training sequences 3 times" in caplog.text
    assert_same_weights(passes, trained_plainly(X, Y, n_epochs=3), rtol=1e-6, atol=1e-7)
    larger = model()
    larger.fit(X, Y, batch_size=32, n_epochs=1, epoch_size=N_TRAIN // 2)  # a set larger than epoch_size: one pass
    assert_same_weights(larger, trained_plainly(X, Y, n_epochs=1), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="epoch_size is a number of sequences >= 1"):
        model().fit(X, Y, epoch_size=0)


def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path):
    X, Y = data()
    settings = dict(batch_size=32, validation_split=0.25, metric="auc")
    uninterrupted = model()
    full_history = uninterrupted.fit(X, Y, n_epochs=4, checkpoint=tmp_path / "full.passage", restore_best=False,
                                     **settings)
    first = model()
    first.fit(X, Y, n_epochs=2, checkpoint=tmp_path / "run.passage", **settings)
    resumed = model()
    history = resumed.fit(X, Y, n_epochs=4, resume=tmp_path / "run.passage", restore_best=False, **settings)
    assert_same_weights(resumed, uninterrupted, rtol=1e-5, atol=1e-6)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert_allclose([h["val_auc"] for h in history], [h["val_auc"] for h in full_history], atol=1e-6)


def test_resume_refuses_a_model_with_other_layers_and_a_plain_model_file(tmp_path):
    X, Y = data()
    trained = model()
    trained.fit(X, Y, n_epochs=1, checkpoint=tmp_path / "run.passage")
    other = RNN([Embedding(8, 20), GatedRecurrent(16), Dense(1, activation="sigmoid")], verbose=0)
    with pytest.raises(ValueError, match="other layers"):
        other.fit(X, Y, resume=tmp_path / "run.passage")
    trained.save(tmp_path / "model.passage")
    with pytest.raises(ValueError, match="not a checkpoint"):
        model().fit(X, Y, resume=tmp_path / "model.passage")


def interrupt_at(trained, call_number, error=KeyboardInterrupt):
    """Make the ``call_number``-th training step raise ``error`` (as Ctrl-C would)."""
    compiled, calls = trained._function, []

    def function(kind):
        step, masks = compiled(kind)
        if kind != "train":
            return step, masks

        def interrupted(*arguments):
            calls.append(1)
            if len(calls) == call_number:
                raise error
            return step(*arguments)
        return interrupted, masks
    trained._function = function


def test_ctrl_c_keeps_the_last_complete_epoch_and_returns_the_history():
    X, Y = data()
    interrupted = model()
    interrupt_at(interrupted, call_number=2 * 4 + 2)  # second batch of the third epoch
    history = interrupted.fit(X, Y, batch_size=32, n_epochs=5)
    assert [h["epoch"] for h in history] == [1, 2]
    assert_same_weights(interrupted, trained_plainly(X, Y, 2), rtol=1e-6, atol=1e-7)


def test_ctrl_c_with_validation_keeps_the_best_epoch():
    X, Y = data()
    interrupted = model()
    interrupt_at(interrupted, call_number=3 * 4 + 1)
    history = interrupted.fit(X, Y, batch_size=32, n_epochs=5, validation_data=data(32, 1),
                              metric=scripted([0.7, 0.6, 0.5]))
    assert len(history) == 3
    assert_same_weights(interrupted, trained_plainly(X, Y, 1), rtol=1e-6, atol=1e-7)


def test_a_diverging_cost_names_epoch_and_batch_and_keeps_the_last_good_weights():
    rng = np.random.default_rng(0)
    X = [rng.integers(1, 20, 6).tolist() for _ in range(N_TRAIN)]
    Y = rng.normal(1000, 100, N_TRAIN)
    diverging = RNN([Embedding(8, 20), GatedRecurrent(8), Dense(1, activation="linear")], cost="mse",
                    updater=SGD(lr=1e-6), seed=0, verbose=0)
    after_epoch_one = {}

    def raise_the_learning_rate(y_true, y_pred):  # runs after epoch 1: epoch 2 will overflow
        after_epoch_one.update(diverging.get_weights())
        diverging.updater.lr = 1e30
        return 0.0

    with pytest.raises(FloatingPointError, match=r"at epoch 2, batch 2.*keeps epoch 1's"):
        diverging.fit(X, Y, batch_size=32, n_epochs=3, validation_split=0.25, metric=raise_the_learning_rate,
                      restore_best=False)
    for name, value in diverging.get_weights().items():
        assert_array_equal(value, after_epoch_one[name], err_msg=name)


def test_an_unbuilt_model_says_to_fit_first_and_fit_sizes_the_vocabulary():
    unbuilt = RNN([Embedding(8, n_features=None), GatedRecurrent(8), Dense(1, activation="sigmoid")], verbose=0)
    with pytest.raises(NotBuiltError, match="Call fit\\(\\) first.*n_features=tokenizer.n_features"):
        unbuilt.predict([[1, 2]])
    X, Y = data()
    unbuilt.fit(X, Y)
    assert unbuilt.layers[0].n_features == 1 + max(max(x) for x in X)
    assert unbuilt.predict([[1, 2]]).shape == (1, 1)


def test_verbose_2_shows_a_progress_bar_1_a_log_line_per_epoch_0_nothing(capsys, caplog):
    X, Y = data()
    caplog.set_level(logging.INFO, logger="passage")
    for verbose, bar, lines in ((2, True, 2), (1, False, 2), (0, False, 0)):
        caplog.clear()
        trained = model()
        trained.verbose = verbose
        trained.fit(X, Y, batch_size=32, n_epochs=2, validation_split=0.25)
        err = capsys.readouterr().err
        assert ("epoch 2/2" in err and "seq/s" in err) == bar, err
        epoch_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
        assert len(epoch_lines) == lines
        if lines:
            assert "val_loss" in epoch_lines[0]


def test_evaluate_scores_predictions_like_scikit_learn():
    from sklearn.metrics import accuracy_score, roc_auc_score

    X, Y = data()
    trained = model()
    trained.fit(X, Y, batch_size=32)
    p = trained.predict(X)[:, 0].astype(np.float64)
    assert trained.evaluate(X, Y, metric="auc") == pytest.approx(roc_auc_score(Y, p))
    assert trained.evaluate(X, Y, metric="accuracy") == pytest.approx(accuracy_score(Y, p > 0.5))
    p = np.clip(p, 1e-7, 1 - 1e-7)
    assert trained.evaluate(X, Y) == pytest.approx(-np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p)), rel=1e-4)
