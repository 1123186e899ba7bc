"""Each updater against its paper's formula written in numpy, on a toy problem."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from passage import backend, updates
from passage.updates import SGD, NAG, Adadelta, Adagrad, Adam, Momentum, Regularizer, RMSprop

TARGET = np.array([[1.0, -2.0], [0.5, 3.0]])
START = np.array([[0.3, 0.1], [-0.4, 0.2]])


def gradient(p):
    """Gradient of sum((p - TARGET)^2 * [1, 3]): a quadratic with unequal curvatures."""
    return 2 * (p - TARGET) * np.array([1.0, 3.0])


def numpy_steps(name, hyper, n_steps):
    p, state, t = START.copy(), {}, 0
    zeros = np.zeros_like(p)
    for _ in range(n_steps):
        g = gradient(p)
        lr = hyper["lr"]
        if name == "SGD":
            p = p - lr * g
        elif name in ("Momentum", "NAG"):
            v = hyper["momentum"] * state.get("v", zeros) - lr * g
            state["v"] = v
            p = p + v if name == "Momentum" else p + hyper["momentum"] * v - lr * g
        elif name == "Adagrad":
            a = state.get("a", zeros) + g ** 2
            state["a"] = a
            p = p - lr * g / np.sqrt(a + hyper["epsilon"])
        elif name == "Adadelta":
            rho, eps = hyper["rho"], hyper["epsilon"]
            a = rho * state.get("a", zeros) + (1 - rho) * g ** 2
            u = g * np.sqrt(state.get("d", zeros) + eps) / np.sqrt(a + eps)
            state["a"], state["d"] = a, rho * state.get("d", zeros) + (1 - rho) * u ** 2
            p = p - lr * u
        elif name == "RMSprop":
            a = hyper["rho"] * state.get("a", zeros) + (1 - hyper["rho"]) * g ** 2
            state["a"] = a
            p = p - lr * g / np.sqrt(a + hyper["epsilon"])
        elif name == "Adam":
            t += 1
            m = hyper["beta1"] * state.get("m", zeros) + (1 - hyper["beta1"]) * g
            v = hyper["beta2"] * state.get("v", zeros) + (1 - hyper["beta2"]) * g ** 2
            state["m"], state["v"] = m, v
            m_hat, v_hat = m / (1 - hyper["beta1"] ** t), v / (1 - hyper["beta2"] ** t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + hyper["epsilon"])
    return p


CASES = [
    (SGD, {"lr": 0.05}),
    (Momentum, {"lr": 0.05, "momentum": 0.8}),
    (NAG, {"lr": 0.05, "momentum": 0.8}),
    (Adagrad, {"lr": 0.3, "epsilon": 1e-6}),
    (Adadelta, {"lr": 0.7, "rho": 0.9, "epsilon": 1e-4}),
    (RMSprop, {"lr": 0.02, "rho": 0.8, "epsilon": 1e-6}),
    (Adam, {"lr": 0.1, "beta1": 0.7, "beta2": 0.9, "epsilon": 1e-8}),
]


def compiled_step(updater, dtype="float64"):
    with backend.precision(dtype):
        p = backend.shared(START, name="p")
        cost = (backend.T.sqr(p - TARGET.astype(dtype)) * np.array([1.0, 3.0], dtype=dtype)).sum()
        step = backend.function([], cost, updates=updater.get_updates([p], cost))
    return p, step


@pytest.mark.parametrize("cls, hyper", CASES, ids=[c[0].__name__ for c in CASES])
def test_updater_matches_numpy_formula_over_steps(cls, hyper):
    with backend.precision("float64"):  # float64 functions run inside the block too
        updater = cls(**hyper)
        p, step = compiled_step(updater)
        for n in range(1, 6):
            step()
            assert_allclose(p.get_value(), numpy_steps(cls.__name__, hyper, n), rtol=1e-10, atol=1e-12, err_msg=f"step {n}")


@pytest.mark.parametrize("cls", [c[0] for c in CASES])
def test_float32_stays_float32(cls):
    p, step = compiled_step(cls(), dtype="float32")
    step()
    assert p.get_value().dtype == np.float32


def test_learning_rate_changes_without_recompiling():
    updater = SGD(lr=0.05)
    p, step = compiled_step(updater, dtype="float32")
    step()
    updater.lr = 0.0
    before = p.get_value().copy()
    step()
    assert_allclose(p.get_value(), before)
    assert updater.lr == 0.0


def test_clipnorm_rescales_all_gradients_by_one_global_norm():
    with backend.precision("float64"):
        updater = SGD(lr=1.0, clipnorm=0.5)
        p = backend.shared(START, name="p")
        q = backend.shared(np.array([2.0, -1.0]), name="q")
        cost = (backend.T.sqr(p - TARGET)).sum() + (backend.T.sqr(q)).sum()
        backend.function([], cost, updates=updater.get_updates([p, q], cost))()
    g_p, g_q = 2 * (START - TARGET), 2 * np.array([2.0, -1.0])
    scale = 0.5 / np.sqrt((g_p ** 2).sum() + (g_q ** 2).sum())
    assert_allclose(p.get_value(), START - scale * g_p, rtol=1e-6)
    assert_allclose(q.get_value(), np.array([2.0, -1.0]) - scale * g_q, rtol=1e-6)


def test_regularizer_adds_l1_l2_and_enforces_maxnorm():
    with backend.precision("float64"):
        updater = SGD(lr=0.1, regularizer=Regularizer(l1=0.01, l2=0.1, maxnorm=0.5))
        p = backend.shared(START, name="p")
        cost = (backend.T.sqr(p - TARGET)).sum()
        backend.function([], cost, updates=updater.get_updates([p], cost))()
    stepped = START - 0.1 * (2 * (START - TARGET) + 0.1 * START + 0.01 * np.sign(START))
    norms = np.sqrt((stepped ** 2).sum(axis=0, keepdims=True))
    assert_allclose(p.get_value(), stepped * np.minimum(1.0, 0.5 / (norms + 1e-7)), rtol=1e-10)


def test_get_resolves_names_case_insensitively():
    assert isinstance(updates.get("adam"), Adam)
    assert isinstance(updates.get("RMSProp"), RMSprop)
    assert isinstance(updates.get(Adadelta), Adadelta)
    with pytest.raises(ValueError, match="unknown updater"):
        updates.get("adamw")


def test_config_round_trip():
    updater = Adam(lr=0.01, beta1=0.8, clipnorm=5.0, regularizer=Regularizer(l2=1e-4))
    rebuilt = updates.from_config("Adam", updater.get_config())
    assert rebuilt.get_config() == updater.get_config()
