"""The RNN model end to end on small synthetic data: it learns, keeps order, and checks its input."""
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from passage.layers import Dense, Embedding, GatedRecurrent, Generic, LstmRecurrent, OneHot, SimpleRecurrent
from passage.models import RNN
from passage.updates import Adam


def marker_task(n, rng, noise=19, vocabulary=20):
    """Label = which marker (1 or 2) opened the sequence, followed by ``noise`` random tokens.

    Balanced, and it needs memory: the answer is ``noise`` steps back when the sequence ends
    (STYLE.md: a PyTorch GRU/LSTM learns it within 3-5 epochs of 4,000 sequences).
    """
    labels = rng.integers(0, 2, n)
    X = [[1 + int(y)] + rng.integers(3, vocabulary, noise).tolist() for y in labels]
    return X, labels


@pytest.mark.parametrize("recurrent", [GatedRecurrent, LstmRecurrent])
def test_learns_a_task_that_needs_memory(recurrent):
    rng = np.random.default_rng(0)
    trX, trY = marker_task(4000, rng)
    teX, teY = marker_task(1000, rng)
    model = RNN([Embedding(16, 20), recurrent(32), Dense(1, activation="sigmoid")],
                cost="bce", updater=Adam(lr=3e-3), seed=0)
    model.fit(trX, trY, n_epochs=5)
    accuracy = ((model.predict(teX)[:, 0] > 0.5) == teY).mean()
    assert accuracy >= 0.95


def test_adversarial_training_pushes_uphill_and_still_learns():
    from passage import backend
    from passage.layers import DropoutMasks

    rng = np.random.default_rng(0)
    trX, trY = marker_task(4000, rng)
    teX, teY = marker_task(1000, rng)
    model = RNN([Embedding(16, 20, adversarial=0.05), GatedRecurrent(32), Dense(1, activation="sigmoid")],
                cost="bce", updater=Adam(lr=3e-3), seed=0)
    X, mask = model._symbolic_inputs()
    Y = model.output.target_input()
    costs = backend.function([X, mask, Y], list(model._training_cost(X, mask, Y, DropoutMasks())))
    x = np.array(trX[:64], dtype="int32").T
    cost, lowered = costs(x, np.ones(x.shape, dtype=backend.floatX()), np.asarray(trY[:64], backend.floatX())[:, None])
    assert lowered - cost > cost  # the pushed batch costs more: the push follows the gradient uphill
    model.fit(trX, trY, n_epochs=5)
    accuracy = ((model.predict(teX)[:, 0] > 0.5) == teY).mean()
    assert accuracy >= 0.95


def tiny_model(**kwargs):
    kwargs.setdefault("seed", 1)
    return RNN([Embedding(8, 30), GatedRecurrent(8), Dense(1, activation="sigmoid")], **kwargs)


def test_padding_does_not_change_a_prediction():
    rng = np.random.default_rng(1)
    model = tiny_model()
    X = [rng.integers(1, 30, n).tolist() for n in (3, 17, 1, 9, 30, 0)]
    together = model.predict(X)
    alone = np.concatenate([model.predict([x]) for x in X])
    assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_predict_returns_rows_in_input_order_across_batches():
    rng = np.random.default_rng(2)
    model = tiny_model()
    X = [rng.integers(1, 30, n).tolist() for n in rng.integers(0, 40, 150)]
    full = model.predict(X, batch_size=16)
    shuffled = rng.permutation(len(X))
    assert_allclose(model.predict([X[i] for i in shuffled], batch_size=16), full[shuffled], rtol=1e-5, atol=1e-6)


def test_accepts_lists_numpy_arrays_and_pandas_series():
    rng = np.random.default_rng(3)
    model = tiny_model()
    X = rng.integers(1, 30, (10, 7))
    expected = model.predict(X.tolist())
    assert_allclose(model.predict(X), expected)
    assert_allclose(model.predict(pd.Series(list(X))), expected)
    labels = rng.integers(0, 2, 10)
    from_series, from_lists = tiny_model(), tiny_model()
    from_series.fit(pd.Series(list(X)), pd.Series(labels))
    from_lists.fit(X.tolist(), labels.tolist())
    assert_allclose(from_series.predict(X), from_lists.predict(X), rtol=1e-6)
    assert not np.allclose(from_series.predict(X), expected)  # it did train


def test_batch_size_is_honoured():
    model = tiny_model()
    X, Y = marker_task(100, np.random.default_rng(4))
    compiled, sizes = model._function, []

    def recording(kind):
        function, masks = compiled(kind)
        if kind != "train":
            return function, masks
        return (lambda x, *rest: sizes.append(x.shape[1]) or function(x, *rest)), masks
    model._function = recording
    model.fit(X, Y, batch_size=32)
    assert sorted(set(sizes)) == [4, 32] and len(sizes) == 4


def test_pytensor_compiles_each_kind_once_whatever_the_batch_shapes(monkeypatch):
    """Lengths 2..120 fall in 12 length buckets and the last batch is smaller: still one compile for
    training and one for prediction (XLA lowers per shape underneath), and every shape predicts
    what a batch of one does."""
    from passage import backend

    compiles = []
    compile_function = backend.function
    monkeypatch.setattr(backend, "function", lambda *a, **k: compiles.append(1) or compile_function(*a, **k))
    rng = np.random.default_rng(6)
    X = [rng.integers(1, 30, n).tolist() for n in rng.integers(2, 121, 70)]
    model = tiny_model(verbose=0)
    model.fit(X, rng.integers(0, 2, 70), batch_size=8)
    together = model.predict(X, batch_size=8)
    assert len(compiles) == 2 and set(model._functions) == {"train", "predict"}
    one_by_one = np.concatenate([model.predict([x], batch_size=1) for x in X[:10]])
    assert_allclose(together[:10], one_by_one, rtol=1e-5)


def test_prediction_fills_a_smaller_batch_with_empty_rows_and_drops_their_outputs(monkeypatch):
    """70 sequences in batches of 8: the last 6 fill up to 8 rows, a call of 5 takes 8 rows, so
    every batch the predict function sees has 8 rows (no shape compiles for the remainder); the
    outputs are still one per sequence, those of one sequence at a time."""
    from passage import ahead
    monkeypatch.setattr(ahead, "enabled", False)  # the spy below is no function to compile ahead
    rng = np.random.default_rng(9)
    X = [rng.integers(1, 30, n).tolist() for n in rng.integers(2, 20, 70)]
    model = tiny_model(verbose=0)
    one_by_one = np.concatenate([model.predict([x]) for x in X])
    function, _ = model._function("predict")
    rows = []

    def spy(x, mask):  # the predict function, noting each batch's rows
        rows.append(x.shape[1])
        return function(x, mask)
    monkeypatch.setitem(model._functions, "predict", (spy, None))
    together, few = model.predict(X, batch_size=8), model.predict(X[:5], batch_size=8)
    assert set(rows) == {8} and together.shape == (70, 1) and few.shape == (5, 1)
    assert_allclose(together, one_by_one, rtol=1e-5)
    assert_allclose(few, one_by_one[:5], rtol=1e-5)


def test_same_seed_gives_identical_weights():
    X, Y = marker_task(200, np.random.default_rng(5))
    weights = []
    for _ in range(2):
        model = RNN([Embedding(8, 20), GatedRecurrent(8, p_drop=0.5), Dense(1, activation="sigmoid")], seed=7)
        model.fit(X, Y, n_epochs=2)
        weights.append([p.get_value() for p in model.params])
    for a, b in zip(*weights):
        assert_allclose(a, b)


def test_weights_and_optimizer_state_are_writable_numpy_copies():
    X, Y = marker_task(64, np.random.default_rng(5))
    model = RNN([Embedding(8, 20), GatedRecurrent(8), Dense(1, activation="sigmoid")], seed=7)
    model.fit(X, Y, n_epochs=1)
    weights, state, layer_weights = model.get_weights(), model.updater.get_state(), model.layers[1].get_weights()
    for value in [*weights.values(), *state.values(), *layer_weights]:
        assert type(value) is np.ndarray
    before = model.predict(X[:4])
    weights["0/W"][:] = 0.0  # a copy: writable, and writing to it leaves the model alone
    layer_weights[0][:] = 0.0
    assert_allclose(model.predict(X[:4]), before)


def test_multiclass_softmax_with_integer_labels():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 3, 600)
    X = [[3 + int(y)] + rng.integers(6, 20, 5).tolist() for y in labels]
    model = RNN([Embedding(8, 20), GatedRecurrent(16), Dense(3, activation="softmax")], cost="cce",
                updater=Adam(lr=0.01), seed=0)
    model.fit(X, labels, n_epochs=8, batch_size=32)
    probabilities = model.predict(X)
    assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(axis=1) == labels).mean() > 0.9


def test_multilabel_and_regression_outputs():
    rng = np.random.default_rng(7)
    X = [rng.integers(1, 20, n).tolist() for n in rng.integers(1, 12, 384)]  # 12 whole batches of 32
    has = np.array([[3 in x, 4 in x] for x in X], dtype=float)
    multilabel = RNN([OneHot(20), LstmRecurrent(16), Dense(2, activation="sigmoid")], cost="bce",
                     updater=Adam(lr=0.01), seed=0)
    multilabel.fit(X, has, n_epochs=10, batch_size=32)
    assert ((multilabel.predict(X) > 0.5) == has).mean() > 0.9

    lengths = np.array([len(x) for x in X], dtype=float) / 10
    regression = RNN([Embedding(4, 20), SimpleRecurrent(16, activation="rectify", init="glorot", inner_init="identity"),
                      Dense(1, activation="linear")], cost="mse", updater=Adam(lr=0.01), seed=0)
    before = np.mean((regression.predict(X)[:, 0] - lengths) ** 2)
    regression.fit(X, lengths, n_epochs=10, batch_size=32)
    after = np.mean((regression.predict(X)[:, 0] - lengths) ** 2)
    assert after < 0.1 * before


def test_generic_real_valued_sequences_and_deep_input_output():
    rng = np.random.default_rng(8)
    X = [rng.normal(size=(n, 3)) for n in rng.integers(1, 10, 320)]  # 10 whole batches of 32
    Y = np.array([x[:, 0].sum() > 0 for x in X], dtype=float)
    model = RNN([Generic(3), Dense(16, activation="tanh"), GatedRecurrent(16, seq_output=True),
                 GatedRecurrent(16), Dense(8), Dense(1, activation="sigmoid")], updater=Adam(lr=0.01), seed=0)
    model.fit(X, Y, n_epochs=15, batch_size=32)
    assert ((model.predict(X)[:, 0] > 0.5) == Y).mean() > 0.9


@pytest.mark.parametrize("X, Y, message", [
    ([[1, 2], [3]], [1], "trY has 1 rows but trX has 2"),
    ([], [], "empty"),
    (["a review", "another"], [0, 1], "Tokenizer"),
    ([[1, 2], [30, 4]], [0, 1], "ids from 1 to 30.*n_features=30"),
    ([[1, -1]], [0], "negative ids"),
    ([[1.5, 2.0]], [0], "non-integer ids"),
    ([[1, 2], [3]], [0.0, np.nan], "NaN"),
    ([[1, 2], [3]], [0, 2], "bce needs labels in \\[0, 1\\].*softmax"),
    ([[1, 2], [3]], [[0, 1], [1, 0]], "trY has 2 columns but the last layer has 1 outputs"),
])
def test_bad_input_gets_a_clear_error(X, Y, message):
    with pytest.raises(ValueError, match=message):
        tiny_model().fit(X, Y)


def test_empty_sequences_are_valid_input():
    model = tiny_model()
    model.fit([[], [1, 2], []], [0, 1, 0])
    assert model.predict([[]]).shape == (1, 1)


def test_generic_input_can_size_itself_and_takes_empty_sequences():
    model = RNN([Generic(None), GatedRecurrent(4), Dense(1, activation="sigmoid")], verbose=0, seed=0)
    X = [np.ones((3, 2)), np.zeros((0, 2)), np.ones((1, 2))]
    model.fit(X, [1, 0, 1])
    assert model.layers[0].size == 2
    assert model.predict([np.zeros((0, 2)), []]).shape == (2, 1)
    with pytest.raises(ValueError, match=r"X\[0\] has 3 features per step; the Generic layer expects 2"):
        model.predict([np.ones((2, 3))])
