"""Layers against plain-numpy re-writings of their docstring equations, on random float64 weights."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from passage import backend, layers
from passage.layers import (Bidirectional, Dense, DropoutMasks, Embedding, GatedRecurrent, LstmRecurrent, OneHot,
                            Param, SimpleRecurrent)

N_IN, SIZE, LENGTH, BATCH = 3, 4, 6, 3
LENGTHS = [6, 4, 1]  # padded to LENGTH; the last sequence is one real step


def steeper_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-3.75 * x))


def numpy_simple(x, h, w):
    return [np.tanh(x @ w["W"] + h @ w["U"] + w["b"])]


def numpy_gru(x, h, w):
    n = SIZE
    Wz, Wr, Wh = w["W"][:, :n], w["W"][:, n:2 * n], w["W"][:, 2 * n:]
    Uz, Ur = w["U_zr"][:, :n], w["U_zr"][:, n:]
    bz, br, bh = w["b"][:n], w["b"][n:2 * n], w["b"][2 * n:]
    z = steeper_sigmoid(x @ Wz + h @ Uz + bz)
    r = steeper_sigmoid(x @ Wr + h @ Ur + br)
    h_candidate = np.tanh(x @ Wh + (r * h) @ w["U_h"] + bh)
    return [z * h + (1 - z) * h_candidate]


def numpy_gru_reset_after(x, h, w):
    n = SIZE
    Wz, Wr, Wh = w["W"][:, :n], w["W"][:, n:2 * n], w["W"][:, 2 * n:]
    Uz, Ur, Uh = w["U"][:, :n], w["U"][:, n:2 * n], w["U"][:, 2 * n:]
    bz, br, bh = w["b"][:n], w["b"][n:2 * n], w["b"][2 * n:]
    z = steeper_sigmoid(x @ Wz + h @ Uz + bz)
    r = steeper_sigmoid(x @ Wr + h @ Ur + br)
    h_candidate = np.tanh(x @ Wh + bh + r * (h @ Uh + w["b_Uh"]))
    return [z * h + (1 - z) * h_candidate]


class ResetAfterGRU(GatedRecurrent):
    """GatedRecurrent(reset_after=True), as a class for the parametrized tests."""

    def __init__(self, *args, **kwargs):
        kwargs.pop("reset_after", None)  # copies made from its config (Bidirectional) say it again
        super().__init__(*args, reset_after=True, **kwargs)


def numpy_lstm(x, h, c, w):
    n = SIZE
    gates = x @ w["W"] + h @ w["U"] + w["b"]
    i, f, o = (steeper_sigmoid(gates[:, k * n:(k + 1) * n]) for k in range(3))
    c_new = f * c + i * np.tanh(gates[:, 3 * n:])
    return [o * np.tanh(c_new), c_new]


REFERENCES = [(SimpleRecurrent, numpy_simple), (GatedRecurrent, numpy_gru), (ResetAfterGRU, numpy_gru_reset_after),
              (LstmRecurrent, numpy_lstm)]
CELLS = [SimpleRecurrent, GatedRecurrent, ResetAfterGRU, LstmRecurrent]


def numpy_run(reference, x, lengths, w, n_states, backward=False):
    """Each sequence alone, unpadded, step by step: (batch, size) last states and per-step outputs."""
    last, outputs = [], np.zeros((x.shape[0], x.shape[1], SIZE))
    for b, n in enumerate(lengths):
        steps = range(n - 1, -1, -1) if backward else range(n)
        states = [np.zeros((1, SIZE)) for _ in range(n_states)]
        for t in steps:
            states = reference(x[t, b:b + 1], *states, w)
            outputs[t, b] = states[0][0]
        last.append(states[0][0])
    return np.array(last), outputs


def random_weights(layer, rng):
    """Random float64 values for every parameter (biases too: zero biases hide mistakes)."""
    return {name: rng.normal(0, 0.5, p.get_value().shape) for name, p in zip(layer.param_names, layer.params)}


def compile_layer(layer, x_shape, with_grad=False):
    x = backend.tensor_input("x", "float64", x_shape)
    mask = backend.tensor_input("mask", "float64", x_shape[:2])
    out = layer.output(x, mask, train=False, masks=None)
    if not with_grad:
        return backend.function([x, mask], out)
    coefficients = backend.tensor_input("c", "float64", (None,) * out.ndim)
    cost = (out * coefficients).sum()  # -> cost, each parameter's gradient, then the input's
    return backend.function([x, mask, coefficients], [cost] + backend.grad(cost, layer.params + [x]))


def mask_of(lengths, length=LENGTH):
    return (np.arange(length)[:, None] < np.array(lengths)[None, :]).astype("float64")


@pytest.fixture(autouse=True)
def float64():
    with backend.precision("float64"):
        yield


@pytest.mark.parametrize("cls, reference", REFERENCES, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_recurrent_matches_numpy_reference_over_masked_sequences(cls, reference, direction):
    rng = np.random.default_rng(1)
    layer = cls(size=SIZE, seq_output=True, direction=direction)
    layer.build(N_IN, rng)
    w = random_weights(layer, rng)
    layer.set_weights(w)
    x = rng.normal(size=(LENGTH, BATCH, N_IN))
    mask = mask_of(LENGTHS)
    expected_last, expected_seq = numpy_run(reference, x, LENGTHS, w, cls.n_states, direction == "backward")

    got_seq = compile_layer(layer, x.shape)(x, mask)
    for b, n in enumerate(LENGTHS):
        assert_allclose(got_seq[:n, b], expected_seq[:n, b], rtol=1e-10, atol=1e-12)

    layer.seq_output = False
    got_last = compile_layer(layer, x.shape)(x, mask)
    if direction == "forward":
        assert_allclose(got_last, expected_last, rtol=1e-10, atol=1e-12)
    else:  # a backward layer ends on the first step
        assert_allclose(got_last, expected_seq[0], rtol=1e-10, atol=1e-12)


def bfloat16(a):
    """``a`` rounded to bfloat16 (8 bits of mantissa, to nearest), as float64."""
    import jax.numpy as jnp

    return np.asarray(a, dtype=np.float32).astype(jnp.bfloat16).astype(np.float64)


class BFloat16Products(np.ndarray):
    """Weights and inputs whose matrix products round both operands to bfloat16 (sums in float64)."""

    def __matmul__(self, other):
        return bfloat16(self) @ bfloat16(other)

    def __rmatmul__(self, other):
        return bfloat16(other) @ bfloat16(self)


@pytest.fixture
def bfloat16_products():
    import jax

    chosen = jax.config.jax_default_matmul_precision  # the environment's, restored after
    jax.config.update("jax_default_matmul_precision", "bfloat16")
    try:
        with backend.precision("float32"):
            yield
    finally:
        jax.config.update("jax_default_matmul_precision", chosen)


@pytest.mark.skipif(backend.mode() != "JAX", reason="the rounding is JAX mode's")
@pytest.mark.parametrize("cls, reference", REFERENCES, ids=lambda v: getattr(v, "__name__", ""))
def test_bfloat16_products_round_every_product_of_the_step_and_nothing_else(cls, reference, bfloat16_products):
    assert backend.rounds_to_bfloat16()
    rng = np.random.default_rng(1)
    layer = cls(size=SIZE, seq_output=True)
    layer.build(N_IN, rng)
    w = random_weights(layer, rng)
    layer.set_weights(w)
    x = rng.normal(size=(LENGTH, BATCH, N_IN))
    x_in = backend.tensor_input("x", "float32", x.shape)
    mask_in = backend.tensor_input("mask", "float32", x.shape[:2])
    got = backend.function([x_in, mask_in], layer.output(x_in, mask_in, train=False, masks=None))(
        x.astype("float32"), mask_of(LENGTHS).astype("float32"))
    rounded = {name: value.view(BFloat16Products) for name, value in w.items()}
    _, expected = numpy_run(reference, x.view(BFloat16Products), LENGTHS, rounded, cls.n_states)
    _, exact = numpy_run(reference, x, LENGTHS, w, cls.n_states)
    for b, n in enumerate(LENGTHS):
        assert_allclose(got[:n, b], expected[:n, b], rtol=1e-5, atol=1e-6)
    assert np.abs(got[:, 0] - exact[:, 0]).max() > 1e-4  # float32 products would be within 1e-6


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_backward_equals_forward_on_reversed_sequence(cls):
    rng = np.random.default_rng(2)
    forward = cls(size=SIZE, seq_output=True)
    forward.build(N_IN, rng)
    backward = cls(size=SIZE, seq_output=True, direction="backward", weights=forward.get_weights())
    backward.build(N_IN, rng)
    x, mask = rng.normal(size=(LENGTH, BATCH, N_IN)), np.ones((LENGTH, BATCH))
    assert_allclose(compile_layer(backward, x.shape)(x, mask),
                    compile_layer(forward, x.shape)(x[::-1], mask)[::-1], rtol=1e-12)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_padding_changes_nothing(cls):
    rng = np.random.default_rng(3)
    layer = cls(size=SIZE)
    layer.build(N_IN, rng)
    layer.set_weights(random_weights(layer, rng))
    x = rng.normal(size=(4, 1, N_IN))
    alone = compile_layer(layer, x.shape)(x, np.ones((4, 1)))
    padded = np.concatenate([x, rng.normal(size=(5, 1, N_IN))])  # garbage after the end
    assert_allclose(compile_layer(layer, padded.shape)(padded, mask_of([4], 9)), alone, rtol=1e-12)


def finite_difference(f, value, index, eps=1e-6):
    """Central difference of ``f()`` in ``value[index]`` (changed in place, then restored).

    ``float`` waits for each result: JAX may read a numpy input in place and run asynchronously.
    """
    original = value[index]
    value[index] = original + eps
    up = float(f())
    value[index] = original - eps
    down = float(f())
    value[index] = original
    return (up - down) / (2 * eps)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("direction, seq_output", [("forward", True), ("backward", True), ("forward", False)])
def test_gradients_match_finite_differences_through_scan_and_mask(cls, direction, seq_output):
    """Every weight's and every input's gradient: the recurrent layers' backward pass is written by hand."""
    rng = np.random.default_rng(4)
    layer = cls(size=SIZE, seq_output=seq_output, direction=direction)
    layer.build(N_IN, rng)
    layer.set_weights(random_weights(layer, rng))
    x, mask = rng.normal(size=(LENGTH, BATCH, N_IN)), mask_of(LENGTHS)
    coefficients = rng.normal(size=(LENGTH, BATCH, SIZE) if seq_output else (BATCH, SIZE))
    assert_gradients_match_finite_differences(layer, x, mask, coefficients)


def assert_gradients_match_finite_differences(layer, x, mask, coefficients):
    """The gradient of ``sum(output * coefficients)`` for every entry of every weight and of the input."""
    f = compile_layer(layer, x.shape, with_grad=True)
    _, *grads = f(x, mask, coefficients)
    for name, p, g in zip(layer.param_names, layer.params, grads):
        value = p.get_value()

        def cost(p=p, value=value):
            p.set_value(value)
            return f(x, mask, coefficients)[0]

        for index in np.ndindex(value.shape):
            assert_allclose(g[index], finite_difference(cost, value, index), rtol=1e-5, atol=1e-8,
                            err_msg=f"{name}{index}")
        p.set_value(value)

    d_x = grads[-1]
    for index in np.ndindex(x.shape):
        expected = finite_difference(lambda: f(x, mask, coefficients)[0], x, index)
        assert_allclose(d_x[index], expected, rtol=1e-5, atol=1e-8, err_msg=f"x{index}")


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_truncated_gradient_reaches_only_the_last_steps(cls):
    rng = np.random.default_rng(6)
    full = cls(size=SIZE, seq_output=False)
    full.build(N_IN, rng)
    full.set_weights(random_weights(full, rng))
    truncated = cls(size=SIZE, seq_output=False, truncate_gradient=2, weights=full.get_weights())
    truncated.build(N_IN, rng)
    x, mask, coefficients = rng.normal(size=(LENGTH, BATCH, N_IN)), np.ones((LENGTH, BATCH)), rng.normal(size=(BATCH, SIZE))
    d_full = compile_layer(full, x.shape, with_grad=True)(x, mask, coefficients)[-1]
    d_truncated = compile_layer(truncated, x.shape, with_grad=True)(x, mask, coefficients)[-1]
    assert_allclose(d_truncated[-2:], d_full[-2:], rtol=1e-12)
    assert not d_truncated[:-2].any() and d_full[:-2].any()


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_truncating_at_the_length_or_beyond_changes_no_gradient(cls):
    rng = np.random.default_rng(8)
    full = cls(size=SIZE, seq_output=True, direction="backward")
    full.build(N_IN, rng)
    full.set_weights(random_weights(full, rng))
    x, mask = rng.normal(size=(LENGTH, BATCH, N_IN)), mask_of(LENGTHS)
    coefficients = rng.normal(size=(LENGTH, BATCH, SIZE))
    expected = compile_layer(full, x.shape, with_grad=True)(x, mask, coefficients)
    for steps in (LENGTH, LENGTH + 3):
        truncated = cls(size=SIZE, seq_output=True, direction="backward", truncate_gradient=steps,
                        weights=full.get_weights())
        truncated.build(N_IN, rng)
        got = compile_layer(truncated, x.shape, with_grad=True)(x, mask, coefficients)
        for g, e in zip(got, expected):  # the cost, every weight's gradient, the input's
            assert_allclose(g, e, rtol=1e-12, atol=1e-14)


class DerivedSimple(SimpleRecurrent):
    """A recurrent layer that writes only step(): PyTensor derives its gradient through the loop."""
    written_gradient = False
    step_backward = layers.Recurrent.step_backward


def test_a_layer_with_only_a_step_is_differentiated_by_pytensor():
    rng = np.random.default_rng(7)
    written = SimpleRecurrent(size=SIZE, seq_output=True)
    written.build(N_IN, rng)
    written.set_weights(random_weights(written, rng))
    derived = DerivedSimple(size=SIZE, seq_output=True, weights=written.get_weights())
    derived.build(N_IN, rng)
    x, mask = rng.normal(size=(LENGTH, BATCH, N_IN)), mask_of(LENGTHS)
    coefficients = rng.normal(size=(LENGTH, BATCH, SIZE))
    got = compile_layer(derived, x.shape, with_grad=True)(x, mask, coefficients)
    expected = compile_layer(written, x.shape, with_grad=True)(x, mask, coefficients)
    assert len(got) == 5
    for g, e in zip(got, expected):  # the cost, then the gradients of W, U, b and the input
        assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_truncate_gradient_must_be_a_number_of_steps_and_needs_a_written_backward_pass():
    with pytest.raises(ValueError, match="truncate_gradient"):
        GatedRecurrent(truncate_gradient=0)
    layer = DerivedSimple(size=SIZE, truncate_gradient=2)
    layer.build(N_IN, np.random.default_rng(0))
    with pytest.raises(ValueError, match="DerivedSimple has no step_backward"):
        compile_layer(layer, (LENGTH, BATCH, N_IN))


def test_all_ones_mask_equals_unmasked_reference():
    rng = np.random.default_rng(5)
    layer = GatedRecurrent(size=SIZE)
    layer.build(N_IN, rng)
    w = random_weights(layer, rng)
    layer.set_weights(w)
    x = rng.normal(size=(LENGTH, BATCH, N_IN))
    expected, _ = numpy_run(numpy_gru, x, [LENGTH] * BATCH, w, 1)
    assert_allclose(compile_layer(layer, x.shape)(x, np.ones((LENGTH, BATCH))), expected, rtol=1e-10)


def test_dense_applies_per_time_step_on_sequences():
    rng = np.random.default_rng(6)
    dense = Dense(size=5, activation="tanh")
    dense.build(N_IN, rng)
    w = random_weights(dense, rng)
    dense.set_weights(w)
    x = rng.normal(size=(LENGTH, BATCH, N_IN))
    got = compile_layer(dense, x.shape)(x, np.ones((LENGTH, BATCH)))
    assert_allclose(got, np.tanh(x @ w["W"] + w["b"]), rtol=1e-12)


IDS = np.array([[3, 5], [4, 0], [0, 0]], dtype="int32")  # (T=3, B=2); lengths 2 and 1


def input_layer_graph(layer):
    """Symbolic ids and mask of IDS's shape, and ``layer``'s output on them."""
    layer.build(None, np.random.default_rng(7))
    ids = backend.tensor_input("ids", "int32", IDS.shape)
    mask = backend.tensor_input("mask", "float64", IDS.shape)
    return ids, mask, layer.output(ids, mask, False, None)


def test_embedding_and_one_hot_zero_padding_steps():
    embedding, one_hot = Embedding(size=4, n_features=10), OneHot(n_features=10)
    ids, mask, vectors = input_layer_graph(embedding)
    one_hots = one_hot.output(ids, mask, False, None)
    vectors, one_hots = backend.function([ids, mask], [vectors, one_hots])(IDS, mask_of([2, 1], 3))
    assert_allclose(vectors[0, 0], embedding.get_weights()[0][3])
    assert_allclose(vectors[1, 1], 0.0)
    assert_allclose(one_hots[1, 0], np.eye(10)[4])
    assert one_hots[2].sum() == 0


def test_embedding_pad_row_gets_no_gradient():
    embedding = Embedding(size=4, n_features=10)
    ids, mask, vectors = input_layer_graph(embedding)
    grad = backend.function([ids, mask], backend.grad((vectors ** 2).sum(), embedding.W))
    g = grad(IDS, mask_of([2, 1], 3))
    assert np.all(g[0] == 0) and np.any(g[3] != 0)


def test_dropout_is_inverted_and_only_while_training():
    rng = np.random.default_rng(9)
    dense = Dense(size=200, activation="linear", init="identity", p_drop=0.75)
    dense.build(200, rng)
    x = backend.tensor_input("x", "float64", (50, 200))
    masks = DropoutMasks()
    out = dense.output(x, None, True, masks)
    train = backend.function([x] + masks.inputs, out)
    ones = np.ones((50, 200))
    drawn = masks.draw(np.random.default_rng(0), length=1, batch=50)
    assert [m.shape for m in drawn] == [(50, 200)]
    dropped = train(ones, *drawn)
    assert set(np.unique(dropped)) == {0.0, 4.0}
    assert abs((dropped == 0).mean() - 0.75) < 0.02
    assert_allclose(backend.function([x], dense.output(x, None, False, None))(ones), ones)


def test_embedding_word_dropout_drops_whole_words_and_only_while_training():
    embedding = Embedding(size=16, n_features=10, p_drop=0.25)
    embedding.build(None, np.random.default_rng(7))
    ids = backend.tensor_input("ids", "int32", (None, None))
    mask = backend.tensor_input("mask", "float64", (None, None))
    masks = DropoutMasks()
    out = embedding.output(ids, mask, True, masks)
    train = backend.function([ids, mask] + masks.inputs, out)
    x = np.random.default_rng(1).integers(1, 10, size=(400, 20)).astype("int32")
    drawn = masks.draw(np.random.default_rng(0), length=400, batch=20)
    assert [m.shape for m in drawn] == [(400, 20, 1)]
    out = train(x, np.ones(x.shape), *drawn)
    dropped = np.all(out == 0, axis=-1)                  # whole vectors zeroed, or none of their entries
    assert_allclose(out[~dropped], embedding.get_weights()[0][x[~dropped]] / 0.75, rtol=1e-6)
    assert abs(dropped.mean() - 0.25) < 0.02
    predict = backend.function([ids, mask], embedding.output(ids, mask, False, None))
    assert_allclose(predict(x, np.ones(x.shape)), embedding.get_weights()[0][x])
    assert layers.get("Embedding", embedding.get_config()).p_drop == 0.25


def test_embedding_adversarial_push_moves_each_sequence_a_fraction_of_its_norm_along_the_gradient():
    embedding = Embedding(size=SIZE, n_features=10, adversarial=0.3)
    vectors = backend.tensor_input("vectors", "float64", (None, None, SIZE))
    gradient = backend.tensor_input("gradient", "float64", (None, None, SIZE))
    mask = backend.tensor_input("mask", "float64", (None, None))
    push = backend.function([vectors, gradient, mask], embedding.pushed(vectors, gradient, mask))
    rng = np.random.default_rng(3)
    m = (np.arange(LENGTH)[:, None] < np.array(LENGTHS)[None, :]).astype("float64")  # (T, B)
    v = rng.normal(size=(LENGTH, BATCH, SIZE)) * m[:, :, None]  # an Embedding's output is zero at padding
    g = rng.normal(size=(LENGTH, BATCH, SIZE))                  # nonzero at padding: must be ignored there
    moved = push(v, g, m) - v
    for b in range(BATCH):
        real = m[:, b] > 0
        expected = 0.3 * np.linalg.norm(v[real, b]) * g[real, b] / np.linalg.norm(g[real, b])
        assert_allclose(moved[real, b], expected, rtol=1e-10)
        assert_allclose(np.linalg.norm(moved[real, b]), 0.3 * np.linalg.norm(v[real, b]), rtol=1e-10)
    assert np.all(moved[m == 0] == 0)
    assert layers.get("Embedding", embedding.get_config()).adversarial == 0.3
    assert Embedding(8, 10).adversarial == 0.0


@pytest.mark.parametrize("bad", [-0.1, 1.0, True, "0.1"])
def test_embedding_adversarial_out_of_range_gets_a_clear_error(bad):
    with pytest.raises(ValueError, match="adversarial"):
        Embedding(8, 10, adversarial=bad)


def test_config_rebuilds_the_layer_and_weights_round_trip():
    rng = np.random.default_rng(10)
    layer = LstmRecurrent(size=SIZE, activation="hard_tanh", seq_output=True, p_drop=0.5, direction="backward")
    layer.build(N_IN, rng)
    rebuilt = layers.get("LstmRecurrent", layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    rebuilt = layers.get("LstmRecurrent", dict(layer.get_config(), weights=layer.get_weights()))
    rebuilt.build(N_IN, np.random.default_rng(99))
    for a, b in zip(rebuilt.get_weights(), layer.get_weights()):
        assert_allclose(a, b)


def test_wrong_weights_are_refused_with_the_expected_shape():
    layer = GatedRecurrent(size=SIZE, weights={"U_h": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"U_h has shape \(4, 4\)"):
        layer.build(N_IN, np.random.default_rng(0))


def test_gru_parameters_are_named_and_ordered():
    layer = GatedRecurrent(size=SIZE)
    layer.build(N_IN, np.random.default_rng(0))
    assert layer.param_names == ["W", "U_zr", "U_h", "b"]
    assert [w.shape for w in layer.get_weights()] == [(N_IN, 3 * SIZE), (SIZE, 2 * SIZE), (SIZE, SIZE), (3 * SIZE,)]


def test_reset_after_gru_has_one_recurrent_matrix_and_its_config_keeps_the_variant():
    layer = GatedRecurrent(size=SIZE, reset_after=True)
    layer.build(N_IN, np.random.default_rng(0))
    assert layer.param_names == ["W", "U", "b_Uh", "b"]
    assert layer.U.get_value().shape == (SIZE, 3 * SIZE)
    rebuilt = GatedRecurrent(**layer.get_config())
    assert rebuilt.reset_after and rebuilt.recurrent_weights == ("U", "b_Uh")
    assert not GatedRecurrent(**GatedRecurrent(SIZE).get_config()).reset_after  # the 2015 equations by default
    with pytest.raises(ValueError, match="reset_after must be True or False"):
        GatedRecurrent(SIZE, reset_after="yes")


def test_lstm_forget_bias_starts_at_one():
    layer = LstmRecurrent(size=SIZE)
    layer.build(N_IN, np.random.default_rng(0))
    b = layer.get_weights()[-1]
    assert_allclose(b[SIZE:2 * SIZE], 1.0)
    assert_allclose(np.delete(b, np.s_[SIZE:2 * SIZE]), 0.0)


def test_stack_errors_say_how_to_fix():
    with pytest.raises(ValueError, match="first layer must read the input"):
        layers.check_stack([GatedRecurrent(4), Dense(1)])
    with pytest.raises(ValueError, match="seq_output=True on all but the last"):
        layers.check_stack([Embedding(4, 10), GatedRecurrent(4), GatedRecurrent(4), Dense(1)])
    with pytest.raises(ValueError, match="seq_output=True on all but the last"):
        layers.check_stack([Embedding(4, 10), layers.Bidirectional(GatedRecurrent(4)), GatedRecurrent(4), Dense(1)])
    assert not layers.check_stack([Embedding(4, 10), Dense(8), GatedRecurrent(4, seq_output=True),
                                   LstmRecurrent(4), Dense(8), Dense(1)])
    assert layers.check_stack([Embedding(4, 10), GatedRecurrent(4, seq_output=True), Dense(1)])  # per token



class WithInitialState(SimpleRecurrent):
    """A user's layer with an extra parameter (a learned initial state) that its step never receives."""

    def param_specs(self, n_in):
        return super().param_specs(n_in) + [Param("h0", (self.size,), "normal")]


def test_a_parameter_outside_the_written_gradient_is_refused():
    with pytest.raises(ValueError, match=r"\['h0'\].*recurrent_weights.*written_gradient = False"):
        WithInitialState(size=SIZE).build(N_IN, np.random.default_rng(0))


# ---- Bidirectional --------------------------------------------------------------------------------

def merged(forward, backward, merge):
    if merge == "concat":
        return np.concatenate([forward, backward], axis=-1)
    return forward + backward if merge == "sum" else (forward + backward) / 2


def copy_weights(layer, prefix):
    return {name[len(prefix) + 1:]: value for name, value in zip(layer.param_names, layer.get_weights())
            if name.startswith(prefix + "/")}


@pytest.mark.parametrize("cls, reference", REFERENCES, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("merge", ["concat", "sum", "mean"])
def test_bidirectional_matches_numpy_forward_and_reversed_backward_states(cls, reference, merge):
    rng = np.random.default_rng(11)
    layer = Bidirectional(cls(size=SIZE, seq_output=True), merge=merge)
    layer.build(N_IN, rng)
    layer.set_weights(random_weights(layer, rng))
    assert layer.param_names[0] == "forward/W" and layer.n_out == (2 * SIZE if merge == "concat" else SIZE)
    x, mask = rng.normal(size=(LENGTH, BATCH, N_IN)), mask_of(LENGTHS)
    forward_last, forward_seq = numpy_run(reference, x, LENGTHS, copy_weights(layer, "forward"), cls.n_states)
    _, backward_seq = numpy_run(reference, x, LENGTHS, copy_weights(layer, "backward"), cls.n_states, backward=True)

    got_seq = compile_layer(layer, x.shape)(x, mask)
    expected_seq = merged(forward_seq, backward_seq, merge)
    for b, n in enumerate(LENGTHS):
        assert_allclose(got_seq[:n, b], expected_seq[:n, b], rtol=1e-10, atol=1e-12)

    layer.forward.seq_output = layer.backward.seq_output = False
    # the backward copy's summary is its state after reading back to the first token, never a padded one
    assert_allclose(compile_layer(layer, x.shape)(x, mask), merged(forward_last, backward_seq[0], merge),
                    rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seq_output", [True, False])
def test_bidirectional_gradients_match_finite_differences(seq_output):
    rng = np.random.default_rng(12)
    layer = Bidirectional(GatedRecurrent(size=SIZE, seq_output=seq_output))
    layer.build(N_IN, rng)
    layer.set_weights(random_weights(layer, rng))
    x, mask = rng.normal(size=(LENGTH, BATCH, N_IN)), mask_of(LENGTHS)
    coefficients = rng.normal(size=(LENGTH, BATCH, 2 * SIZE) if seq_output else (BATCH, 2 * SIZE))
    assert_gradients_match_finite_differences(layer, x, mask, coefficients)


def test_bidirectional_stacks_and_its_config_rebuilds_it_with_its_weights():
    rng = np.random.default_rng(13)
    layer = Bidirectional(LstmRecurrent(size=SIZE, seq_output=True, p_drop=0.25), merge="sum")
    layer.build(N_IN, rng)
    config = layer.get_config()
    assert config == {"layer": {"class": "LstmRecurrent", "config": LstmRecurrent(
        size=SIZE, seq_output=True, p_drop=0.25).get_config()}, "merge": "sum"}
    rebuilt = layers.get("Bidirectional", config)
    rebuilt._initial_weights = dict(zip(layer.param_names, layer.get_weights()))
    rebuilt.build(N_IN, np.random.default_rng(99))
    x = rng.normal(size=(LENGTH, BATCH, N_IN))
    assert_allclose(compile_layer(rebuilt, x.shape)(x, mask_of(LENGTHS)),
                    compile_layer(layer, x.shape)(x, mask_of(LENGTHS)))
    assert not layers.check_stack([Embedding(4, 10), Bidirectional(GatedRecurrent(4, seq_output=True)),
                                   Bidirectional(SimpleRecurrent(4)), Dense(1)])


@pytest.mark.parametrize("make, message", [
    (lambda: Bidirectional(Dense(4)), "wraps a recurrent layer.*got Dense"),
    (lambda: Bidirectional(Embedding(4, 10)), "wraps a recurrent layer"),
    (lambda: Bidirectional(GatedRecurrent(4), merge="max"), "merge must be one of"),
    (lambda: Bidirectional(GatedRecurrent(4, direction="backward")), "direction='forward'"),
])
def test_bidirectional_refuses_what_it_cannot_wrap(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---- Passage 2015 call forms ------------------------------------------------------------------------

def test_positional_arguments_follow_the_2015_order():
    gru = GatedRecurrent(64, "rectify", "hard_sigmoid", "glorot", 5, True, 0.25)
    assert (gru.size, gru.activation.__name__, gru.gate_activation.__name__, gru.init, gru.truncate_gradient,
            gru.seq_output, gru.p_drop) == (64, "rectify", "hard_sigmoid", "glorot", 5, True, 0.25)
    lstm = LstmRecurrent(32, "tanh", "sigmoid", "normal", -1, False, 0.5)
    assert (lstm.gate_activation.__name__, lstm.init, lstm.seq_output, lstm.p_drop) == ("sigmoid", "normal", False, 0.5)
    simple = SimpleRecurrent(16, "rectify", "orthogonal", 3, True, 0.1)  # 2015: no gate_activation here
    assert (simple.activation.__name__, simple.init, simple.truncate_gradient, simple.seq_output, simple.p_drop) == \
        ("rectify", "orthogonal", 3, True, 0.1)
    assert layers.get("SimpleRecurrent", simple.get_config()).get_config() == simple.get_config()


def test_parameterless_input_layers_take_the_2015_weights_argument():
    from passage.layers import Generic

    assert OneHot(10, weights=None).n_out == 10 and Generic(3, None).n_out == 3
    with pytest.raises(ValueError, match="OneHot takes 0 weight arrays"):
        OneHot(10, weights=[np.zeros(3)]).build(None, np.random.default_rng(0))


# ---- Pooling over time ------------------------------------------------------------------------------

def numpy_pooling(x, lengths, mode, backward=0):
    rows = []
    split = x.shape[2] - backward  # the features from here on were read backward: their summary is at step 0
    for b, n in enumerate(lengths):
        real = x[:n, b]
        if n == 0:
            rows.append(np.zeros(x.shape[2]))
        else:
            last = np.concatenate([real[-1, :split], real[0, split:]])
            rows.append({"max": real.max(axis=0), "mean": real.mean(axis=0), "last": last}[mode])
    return np.array(rows)


@pytest.mark.parametrize("modes", [("max",), ("mean",), ("last",), ("max", "mean", "last")])
def test_pooling_matches_numpy_and_never_sees_padding(modes):
    rng = np.random.default_rng(8)
    lengths = [6, 3, 0, 1]
    x = rng.normal(size=(LENGTH, len(lengths), N_IN))
    mask = mask_of(lengths)
    x[mask == 0] = 1e3  # padding that would win every max and skew every mean
    pooling = layers.Pooling(modes)
    assert pooling.param_specs(N_IN) == [] and pooling.n_out == N_IN * len(modes)
    got = compile_layer(pooling, x.shape)(x, mask)
    expected = np.concatenate([numpy_pooling(x, lengths, mode) for mode in modes], axis=1)
    assert_allclose(got, expected, rtol=1e-12)


def test_pooling_last_takes_backward_features_at_the_first_step():
    rng = np.random.default_rng(10)
    lengths = [6, 3, 0, 1]
    x = rng.normal(size=(LENGTH, len(lengths), N_IN))
    pooling = layers.Pooling(("last", "max"), backward=2)
    pooling.build(N_IN, rng)
    got = compile_layer(pooling, x.shape)(x, mask_of(lengths))
    expected = np.concatenate([numpy_pooling(x, lengths, "last", backward=2), numpy_pooling(x, lengths, "max")], axis=1)
    assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="backward is a number of features"):
        layers.Pooling("last", backward=-1)
    with pytest.raises(ValueError, match=r"backward=4\) reads more backward features than its input's 3"):
        layers.Pooling("last", backward=4).param_specs(N_IN)


@pytest.mark.parametrize("make", [lambda seq: Bidirectional(GatedRecurrent(SIZE, seq_output=seq)),
                                  lambda seq: GatedRecurrent(SIZE, seq_output=seq, direction="backward"),
                                  lambda seq: LstmRecurrent(SIZE, seq_output=seq)],
                         ids=["bidirectional", "backward", "forward"])
def test_pooling_last_over_a_model_equals_each_readers_summary_state(make):
    """'last' over the states is what the recurrent layer returns with seq_output=False: each
    direction's state after reading the whole sequence, whatever the padding."""
    from passage.models import RNN

    pooled = RNN([Embedding(8, 12), make(True), layers.Pooling("last"), Dense(1)], seed=0)
    summary = RNN([Embedding(8, 12), make(False), Dense(1)], seed=1)
    summary.set_weights({name.replace("3/", "2/"): value for name, value in pooled.get_weights().items()})
    X = [[3, 4, 5, 6, 7], [5, 2], [9, 10, 11]]
    assert pooled.layers[2].backward == pooled.layers[1].backward_features
    assert_allclose(pooled.predict(X), summary.predict(X), rtol=1e-10)


def test_pooling_backward_is_set_from_the_layer_below_and_saved():
    from passage.models import RNN

    def pooling_after(recurrent):
        return RNN([Embedding(8, 12), recurrent, layers.Pooling("last"), Dense(1)]).layers[2]

    assert pooling_after(Bidirectional(GatedRecurrent(5, seq_output=True))).backward == 5
    assert pooling_after(Bidirectional(GatedRecurrent(5, seq_output=True), merge="sum")).backward == 0
    assert pooling_after(GatedRecurrent(5, seq_output=True, direction="backward")).backward == 5
    assert pooling_after(GatedRecurrent(5, seq_output=True)).backward == 0
    assert layers.Pooling("last", backward=3).get_config() == {"modes": ["last"], "backward": 3}
    assert layers.get("Pooling", {"modes": ["last"], "backward": None}).backward is None  # set when built


@pytest.mark.parametrize("backward", [None, 2])
def test_pooling_gradients_match_finite_differences(backward):
    rng = np.random.default_rng(9)
    x, mask = rng.normal(size=(LENGTH, BATCH, N_IN)), mask_of(LENGTHS)
    pooling = layers.Pooling(("max", "mean", "last"), backward=backward)
    pooling.build(N_IN, rng)
    assert_gradients_match_finite_differences(pooling, x, mask, rng.normal(size=(BATCH, 3 * N_IN)))


def test_pooling_makes_a_per_sequence_model_and_needs_sequences():
    stack = [Embedding(4, 10), Bidirectional(GatedRecurrent(5, seq_output=True)), layers.Pooling("max"), Dense(1)]
    assert layers.check_stack(stack) is False
    assert layers.check_stack([Embedding(4, 10), layers.Pooling("mean"), Dense(1)]) is False  # bag of vectors
    with pytest.raises(ValueError, match="Pooling needs sequences"):
        layers.check_stack([Embedding(4, 10), GatedRecurrent(5), layers.Pooling("max"), Dense(1)])
    with pytest.raises(ValueError, match="Pooling modes"):
        layers.Pooling(("max", "median"))
