"""Per-token models (last recurrent layer with seq_output=True): labels, masked costs, predictions,
metrics on real tokens only, and what they learn; plus the errors that say which setting to change."""
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from passage import backend
from passage.layers import Bidirectional, Dense, Embedding, GatedRecurrent, LstmRecurrent
from passage.models import RNN, load
from passage.updates import Adam
from test_layers import finite_difference


def one_step_memory_task(n, rng):
    """Label of token t: was token t-1 above 10 (0 for the first token)? Balanced; needs one step of memory."""
    X = [rng.integers(2, 20, rng.integers(3, 15)).tolist() for _ in range(n)]
    return X, [[0] + [int(token > 10) for token in x[:-1]] for x in X]


def look_ahead_task(n, rng):
    """Label of token t: is token t+1 above 10 (0 for the last token)? Only a model that reads backward
    can know. Calibrated (tests/calibrate_tasks.py, PyTorch GRU, same sizes, data and Adam 3e-3,
    5 epochs, 3 seeds): forward 0.55 per-token accuracy (the majority label), bidirectional 1.00; and
    one_step_memory_task: 1.00 both ways."""
    X = [rng.integers(2, 20, rng.integers(3, 15)).tolist() for _ in range(n)]
    return X, [[int(token > 10) for token in x[1:]] + [0] for x in X]


def tagger(recurrent, n_out=1, activation="sigmoid", cost="bce", **kwargs):
    return RNN([Embedding(16, 20), recurrent, Dense(n_out, activation=activation)], cost=cost,
               updater=Adam(lr=3e-3), seed=0, verbose=0, **kwargs)


def token_accuracy(model, X, Y):
    predicted = np.concatenate([p[:, 0] > 0.5 for p in model.predict(X)])
    return float(np.mean(predicted == np.concatenate(Y)))


def test_a_forward_gru_learns_a_per_token_task_that_needs_one_step_of_memory():
    X, Y = one_step_memory_task(3000, np.random.default_rng(0))
    model = tagger(GatedRecurrent(32, seq_output=True))
    model.fit(X[:2560], Y[:2560], n_epochs=5)  # 40 whole batches: no smaller last batch to compile each epoch
    assert token_accuracy(model, X[2560:], Y[2560:]) >= 0.95


def test_looking_ahead_needs_the_backward_direction():
    X, Y = look_ahead_task(3000, np.random.default_rng(0))
    forward = tagger(GatedRecurrent(32, seq_output=True))
    forward.fit(X[:2560], Y[:2560], n_epochs=5)
    both = tagger(Bidirectional(GatedRecurrent(32, seq_output=True)))
    both.fit(X[:2560], Y[:2560], n_epochs=5)
    assert token_accuracy(forward, X[2560:], Y[2560:]) < 0.7
    assert token_accuracy(both, X[2560:], Y[2560:]) >= 0.95


def small_tagger(**kwargs):
    return RNN([Embedding(8, 30), Bidirectional(GatedRecurrent(8, seq_output=True)), Dense(3, activation="softmax")],
               cost="cce", seed=1, verbose=0, **kwargs)


def test_predict_returns_one_array_per_sequence_in_input_order_and_padding_changes_nothing():
    rng = np.random.default_rng(1)
    model = small_tagger()
    X = [rng.integers(1, 30, n).tolist() for n in (3, 17, 1, 9, 30, 0, 12)]
    together = model.predict(X, batch_size=4)
    assert [p.shape for p in together] == [(len(x), 3) for x in X]
    for x, p in zip(X, together):
        assert_allclose(model.predict([x])[0], p, rtol=1e-5, atol=1e-6)  # alone: padded to another length


def test_labels_at_padded_positions_change_nothing():
    """One training step on a padded batch: whatever the label at a padded step, the weights come out the same."""
    X, Y = [[3, 4, 5, 6, 7], [8, 9]], [[0, 1, 2, 0, 1], [2, 2]]
    results = []
    for padded_label in (0, 2):
        model = small_tagger()
        sequences = [np.array(x) for x in X]
        indices, x, mask = next(model._iterator(2).predict(sequences))
        y = model.output.batch_targets(model.output.targets(Y, sequences), indices, x.shape[0])
        short = list(indices).index(1)
        assert mask[2:, short].sum() == 0
        y[2:, short] = padded_label  # the short sequence is padding from step 2 on
        function, masks = model._function("train")
        function(x, mask, y, *masks.draw(model.rng, *x.shape))
        results.append(model.get_weights())
    for name in results[0]:
        assert_array_equal(results[0][name], results[1][name], err_msg=name)


def test_per_token_cost_and_its_gradient_count_real_tokens_only():
    """The masked cost equals the numpy mean over real tokens, and finite differences agree with its gradient."""
    rng = np.random.default_rng(2)
    with backend.precision("float64"):
        model = RNN([Embedding(3, 6), GatedRecurrent(4, seq_output=True), Dense(3, activation="softmax")],
                    cost="cce", seed=3, verbose=0)
        X = [np.array([1, 2, 3, 4]), np.array([5, 1])]
        Y = model.output.targets([[0, 2, 1, 1], [2, 0]], X)
        indices, x, mask = next(model._iterator(2).predict(X))
        y = model.output.batch_targets(Y, indices, x.shape[0])
        X_in, mask_in = model._symbolic_inputs()
        Y_in = model.output.target_input()
        cost = model.output.batch_cost(Y_in, model._forward(X_in, mask_in, False, None), mask_in)
        f = backend.function([X_in, mask_in, Y_in], [cost] + backend.grad(cost, model.params))
        P = model.predict(X)
        expected = -np.mean([np.log(P[i][t, Y[i][t]]) for i in range(2) for t in range(len(X[i]))])
        value, *grads = f(x, mask, y)
        assert_allclose(value, expected, rtol=1e-10)
        for name, p, g in zip(model.param_names, model.params, grads):
            w = p.get_value()

            def cost(p=p, w=w):
                p.set_value(w)
                return f(x, mask, y)[0]

            for index in list(np.ndindex(w.shape))[::3]:
                assert_allclose(g[index], finite_difference(cost, w, index), rtol=1e-5, atol=1e-8,
                                err_msg=f"{name}{index}")
            p.set_value(w)


def test_labels_come_as_lists_arrays_series_or_one_array_when_lengths_match():
    rng = np.random.default_rng(4)
    X = rng.integers(1, 30, (6, 5))
    Y = rng.integers(0, 3, (6, 5))
    model = small_tagger()
    expected = model.output.targets(Y.tolist(), list(X))
    for labels in (list(Y), pd.Series(list(Y.tolist())), Y, np.eye(3)[Y]):
        for got, want in zip(model.output.targets(labels, list(X)), expected):
            assert_array_equal(got, want)
    multilabel = RNN([Embedding(4, 30), LstmRecurrent(4, seq_output=True), Dense(2, activation="sigmoid")],
                     verbose=0)
    rows = multilabel.output.targets(rng.integers(0, 2, (6, 5, 2)), list(X))
    assert rows[0].shape == (5, 2) and rows[0].dtype == np.float32


def test_evaluate_and_validation_metrics_score_real_tokens_only():
    X, Y = one_step_memory_task(384, np.random.default_rng(5))
    X, Y, Xv, Yv = X[:256], Y[:256], X[256:], Y[256:]  # whole batches of 64: fewer shapes to compile
    model = tagger(GatedRecurrent(16, seq_output=True))
    history = model.fit(X, Y, n_epochs=2, validation_data=(Xv, Yv), metric="accuracy")
    assert history[-1]["val_accuracy"] == pytest.approx(token_accuracy(model, Xv, Yv))
    assert model.evaluate(Xv, Yv, "accuracy") == pytest.approx(token_accuracy(model, Xv, Yv))
    P = np.concatenate([p[:, 0] for p in model.predict(Xv)]).astype(np.float64)
    y = np.concatenate(Yv)
    bce = -np.mean(y * np.log(P) + (1 - y) * np.log(1 - P))
    assert model.evaluate(Xv, Yv, "loss") == pytest.approx(bce, rel=1e-4)
    assert history[-1]["val_loss"] == pytest.approx(bce, rel=1e-4)


def test_a_bidirectional_per_token_model_saves_and_loads_with_identical_predictions(tmp_path):
    rng = np.random.default_rng(6)
    X = [rng.integers(1, 30, n).tolist() for n in (4, 9, 1)]
    model = small_tagger()
    model.fit(X, [rng.integers(0, 3, len(x)).tolist() for x in X], n_epochs=1)
    model.save(tmp_path / "tagger.passage")
    loaded = load(tmp_path / "tagger.passage")
    assert isinstance(loaded.layers[1], Bidirectional) and loaded.output.per_token
    for a, b in zip(model.predict(X), loaded.predict(X)):
        assert_array_equal(a, b)


X3 = [[1, 2, 3], [4, 5], [6]]


@pytest.mark.parametrize("model, Y, message", [
    (small_tagger, [[0, 1, 2], [0, 1, 2], [0]], r"trY\[1\] has 3 labels but trX\[1\] has 2 tokens"),
    (small_tagger, [0, 1, 2], "one label per sequence, but this model outputs one per token.*seq_output=False"),
    (small_tagger, [[0, 1, 2], [0, 3], [0]], r"trY\[1\].*class labels must be integers in \[0, 3\)"),
    (small_tagger, [[0, 1, -1], [0, 1], [0]], r"trY\[0\].*class labels"),
    (lambda: tagger(GatedRecurrent(4, seq_output=True)), [[0, 1, np.nan], [0, 1], [1]], r"trY\[0\] holds NaN"),
    (lambda: tagger(GatedRecurrent(4)), [[0, 1, 1], [0, 1], [1]], "one label.*per sequence.*seq_output=True"),
])
def test_bad_per_token_labels_get_a_clear_error(model, Y, message):
    with pytest.raises(ValueError, match=message):
        model().fit(X3, Y)


def test_a_per_token_model_needs_a_cost_with_one_value_per_token():
    with pytest.raises(ValueError, match="cost with one value per token"):
        RNN([Embedding(4, 10), GatedRecurrent(4, seq_output=True), Dense(1)], cost=lambda Y, P: ((Y - P) ** 2).mean())
