import numpy as np
import pytest
from numpy.testing import assert_allclose

from passage import activations, backend, costs


def evaluate(f, *arrays):
    with backend.precision("float64"):
        inputs = [backend.tensor_input(f"a{i}", "float64", a.shape) for i, a in enumerate(arrays)]
        return backend.function(inputs, f(*inputs))(*arrays)


X = np.array([[-2.0, -0.3, 0.0, 0.4, 3.0, 6.0]])


@pytest.mark.parametrize("name, expected", [
    ("sigmoid", 1 / (1 + np.exp(-X))),
    ("steeper_sigmoid", 1 / (1 + np.exp(-3.75 * X))),
    ("hard_sigmoid", np.clip(X + 0.5, 0, 1)),  # the 2015 library's
    ("theano_hard_sigmoid", np.clip(0.2 * X + 0.5, 0, 1)),
    ("tanh", np.tanh(X)),
    ("hard_tanh", np.clip(X, -1, 1)),
    ("rectify", np.maximum(X, 0)),
    ("linear", X),
    ("clipped_rectify", np.clip(X, 0, 5)),
    ("t_rectify", np.where(X > 1, X, 0)),
    ("t_linear", np.where(np.abs(X) > 1, X, 0)),
    ("maxout", np.maximum(X[:, 0::2], X[:, 1::2])),
    ("clipped_maxout", np.clip(np.maximum(X[:, 0::2], X[:, 1::2]), -5, 5)),
    ("softmax", np.exp(X) / np.exp(X).sum()),
])
def test_activations(name, expected):
    assert_allclose(evaluate(activations.get(name.upper()), X), expected, rtol=1e-12)


Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
P = np.array([[0.8, 0.1], [0.3, 0.6], [0.9, 0.5]])


@pytest.mark.parametrize("name, expected", [
    ("bce", -(Y * np.log(P) + (1 - Y) * np.log(1 - P)).mean()),
    ("cce", -(Y * np.log(P)).sum(axis=1).mean()),
    ("mse", ((Y - P) ** 2).mean()),
    ("mae", np.abs(Y - P).mean()),
    ("hinge", np.maximum(1 - (2 * Y - 1) * P, 0).mean()),
    ("squared_hinge", (np.maximum(1 - (2 * Y - 1) * P, 0) ** 2).mean()),
])
def test_costs(name, expected):
    targets = 2 * Y - 1 if "hinge" in name else Y
    assert_allclose(evaluate(costs.get(name), targets, P), expected, rtol=1e-10)


def test_bce_stays_finite_on_saturated_predictions():
    assert np.isfinite(evaluate(costs.bce, np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])))


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="steeper_sigmoid"):
        activations.get("swish")
    with pytest.raises(ValueError, match="bce"):
        costs.get("focal")


@pytest.mark.parametrize("name, cost", [
    ("BinaryCrossEntropy", costs.bce), ("BCE", costs.bce), ("CategoricalCrossEntropy", costs.cce),
    ("CCE", costs.cce), ("MeanSquaredError", costs.mse), ("MSE", costs.mse), ("MeanAbsoluteError", costs.mae),
    ("MAE", costs.mae), ("Hinge", costs.hinge), ("SquaredHinge", costs.squared_hinge),
    ("SequenceCategoricalCrossEntropy", costs.cce), ("SeqCCE", costs.cce), ("seq_cce", costs.cce),
])
def test_the_2015_cost_names_resolve_to_the_same_costs(name, cost):
    assert costs.get(name) is cost
    if hasattr(costs, name):
        assert getattr(costs, name) is cost
    assert costs.name_of(costs.get(name)) in ("bce", "cce", "mse", "mae", "hinge", "squared_hinge")
