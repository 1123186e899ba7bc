"""Language models: scoring (perplexity, bits), generation with the one-step function, and moving
weights from a language model into a classifier."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from passage.layers import Bidirectional, Dense, Embedding, GatedRecurrent, LstmRecurrent
from passage.models import RNN, load
from passage.preprocessing import Tokenizer, lm_windows
from passage.updates import Adam

V = 12


def language_model(**kwargs):
    return RNN([Embedding(8, V), GatedRecurrent(16, seq_output=True), LstmRecurrent(16, seq_output=True),
                Dense(V, activation="softmax")], cost="cce", seed=0, verbose=0, **kwargs)


def test_a_uniform_model_has_the_vocabulary_size_as_perplexity_and_log2_of_it_in_bits():
    model = language_model()
    model.layers[-1].set_weights({"W": np.zeros((16, V)), "b": np.zeros(V)})
    X, Y = lm_windows([np.random.default_rng(0).integers(1, V, 50)], 7)
    assert model.evaluate(X, Y, "perplexity") == pytest.approx(V, rel=1e-5)
    assert model.evaluate(X, Y, "bits") == pytest.approx(np.log2(V), rel=1e-5)


def test_bits_count_real_tokens_only():
    rng = np.random.default_rng(1)
    model = language_model()
    X, Y = lm_windows([rng.integers(1, V, n) for n in (3, 40, 17)], 10)
    P = model.predict(X)
    log_probabilities = [np.log2(p[np.arange(len(y)), y]) for p, y in zip(P, Y)]
    expected = -np.concatenate(log_probabilities).mean()
    assert model.evaluate(X, Y, "bits", batch_size=2) == pytest.approx(expected, rel=1e-5)


def test_the_one_step_function_gives_the_states_of_the_full_forward_pass():
    """Next-id probabilities after each step, fed one id at a time, equal the whole-sequence predictions
    (both recurrent layers, the LSTM's cell state included, carried between calls)."""
    from passage import backend
    from passage.sampling import recurrent_layers, step

    rng = np.random.default_rng(2)
    model = language_model()
    sequence = rng.integers(1, V, 15)
    expected = model.predict([sequence])[0]
    ids = backend.tensor_input("ids", "int32", (1,))
    states = [backend.tensor_input(f"s{k}", "float32", (1, 16)) for k in range(3)]
    one_step = backend.function([ids, *states], list(step(model, ids, states)[:1]) + step(model, ids, states)[1])
    assert len(recurrent_layers(model)) == 2
    values = [np.zeros((1, 16), np.float32) for _ in range(3)]  # GRU h, LSTM h and c
    for t, id_ in enumerate(sequence):
        probabilities, *values = one_step(np.array([id_], np.int32), *values)
        assert_allclose(probabilities[0], expected[t], rtol=1e-5, atol=1e-6)


def test_generation_runs_in_chunks_without_compiling_per_length():
    model = language_model()
    for n in (1, 15, 16, 17, 40):
        assert len(model.sample([3, 4], n, temperature=0)) == n + 2
    assert [key for key in model._functions if key[0] == "generate"] == [("generate", 1)]


def test_the_same_seed_repeats_a_sample_and_temperature_zero_is_the_most_likely_id():
    model = language_model()
    prefix = [3, 4, 5]
    a, b = model.sample(prefix, 30, seed=7), model.sample(prefix, 30, seed=7)
    assert a == b and a[:3] == prefix and len(a) == 33
    assert model.sample(prefix, 30, seed=8) != a
    greedy = model.sample(prefix, 40, temperature=0)  # across chunks of the generator
    probabilities = model.predict([greedy])[0]
    assert_array_equal(greedy[3:], probabilities[2:-1].argmax(axis=1))


def test_prefixes_of_different_lengths_are_generated_together():
    model = language_model()
    together = model.sample([[3], [4, 5, 6, 7]], 5, temperature=0)
    assert together == [model.sample([3], 5, temperature=0), model.sample([4, 5, 6, 7], 5, temperature=0)]
    top_one = model.sample([3, 4], 8, temperature=1.0, top_k=1, seed=0)
    assert top_one == model.sample([3, 4], 8, temperature=0)


def test_a_periodic_text_is_learned_and_regenerated_exactly(tmp_path):
    text = "the cat sat on a mat. " * 40
    tokenizer = Tokenizer(min_df=1, character=True, lowercase=False)
    ids = tokenizer.fit_transform([text])
    X, Y = lm_windows(ids, 40, stride=7)
    model = RNN([Embedding(16, tokenizer.n_features), GatedRecurrent(64, seq_output=True),
                 Dense(tokenizer.n_features, activation="softmax")], cost="cce", updater=Adam(lr=0.01),
                seed=0, verbose=0)
    model.fit(X, Y, n_epochs=20, batch_size=16)
    model.save(tmp_path / "charlm.passage", tokenizer=tokenizer)
    loaded = load(tmp_path / "charlm.passage")
    prefix = loaded.tokenizer.transform(["the cat"])[0]
    generated = loaded.tokenizer.inverse_transform([loaded.sample(prefix, 44, temperature=0)])[0]
    assert generated == "the cat sat on a mat. the cat sat on a mat. the cat"


@pytest.mark.parametrize("call, message", [
    (lambda m: m.sample([3, V], 5), r"prefix 0 holds ids 3..12.*vocabulary is ids 0..11"),
    (lambda m: m.sample([3], -1), "n is how many ids"),
    (lambda m: m.sample([3], 5, temperature=-0.5), "temperature must be 0"),
    (lambda m: m.sample([], 5), "give a prefix"),
    (lambda m: m.sample([[3], []], 5), "prefix 1 is empty"),
])
def test_bad_sampling_arguments_get_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(language_model())


@pytest.mark.parametrize("layers, message", [
    ([Embedding(8, V), GatedRecurrent(8), Dense(V, activation="softmax")], "one row per sequence"),
    ([Embedding(8, V), GatedRecurrent(8, seq_output=True), Dense(V + 1, activation="softmax")],
     "softmax over its input vocabulary"),
    ([Embedding(8, V), GatedRecurrent(8, seq_output=True), Dense(V, activation="sigmoid")],
     "softmax over its input vocabulary"),
    ([Embedding(8, V), Bidirectional(GatedRecurrent(8, seq_output=True)), Dense(V, activation="softmax")],
     "Bidirectional.*cannot generate"),
])
def test_only_a_forward_softmax_language_model_samples(layers, message):
    with pytest.raises(ValueError, match=message):
        RNN(layers, cost="cce", verbose=0).sample([1, 2], 3)


def test_weight_transfer_copies_exactly_the_layers_it_names():
    lm = language_model()
    classifier = RNN([Embedding(8, V), GatedRecurrent(16), Dense(1, activation="sigmoid")], seed=5, verbose=0)
    before = classifier.get_weights()
    copied = classifier.copy_weights_from(lm, [0, 1])
    assert copied == ["0/W", "1/W", "1/U_zr", "1/U_h", "1/b"]
    after, source = classifier.get_weights(), lm.get_weights()
    for name in copied:
        assert_array_equal(after[name], source[name])
    for name in ("2/W", "2/b"):
        assert_array_equal(after[name], before[name])


def test_weight_transfer_refuses_other_classes_shapes_and_positions():
    lm = language_model()
    wider = RNN([Embedding(8, V), GatedRecurrent(32), Dense(1, activation="sigmoid")], verbose=0)
    before = wider.get_weights()
    with pytest.raises(ValueError, match=r"GatedRecurrent W has shape \(8, 96\) here but \(8, 48\)"):
        wider.copy_weights_from(lm, [0, 1])
    for name, value in wider.get_weights().items():  # nothing copied, not even the matching Embedding
        assert_array_equal(value, before[name])
    with pytest.raises(ValueError, match="layer 2 of the source is a LstmRecurrent, but layer 1 here is a GatedRecurrent"):
        wider.copy_weights_from(lm, {2: 1})
    with pytest.raises(ValueError, match="outside the models"):
        wider.copy_weights_from(lm, [7])
