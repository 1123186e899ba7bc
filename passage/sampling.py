"""Generating text from a language model, one token at a time.

A language model here is a per-token RNN whose input is ids and whose last layer is a softmax over
that same vocabulary. Generation carries every recurrent layer's state (an LSTM's cell state
included) from step to step: :func:`step` is one step, from the ids of one position and the states
to the next-id probabilities and the new states. The compiled generator runs that step ``CHUNK``
times per call (a ``scan``), feeding each row its prefix while it lasts and then the id it drew
itself, so the prefix is read once, each new id costs one step, and nothing is compiled per length:
one function per batch size. The draws use uniform numbers from the seeded host generator, so the
same seed gives the same sample.
"""
from __future__ import annotations

import numpy as np

from passage import activations, backend
from passage.backend import T
from passage.layers import Dense, Recurrent

__all__ = ["sample", "step", "CHUNK"]

CHUNK = 16  # steps per call of the compiled generator: fewer calls, each one's overhead shared


def _check_generator(model) -> None:
    model._require_built()
    name = "this model"
    if model._input_layer.input_dtype != "int32":
        raise ValueError(f"{name} reads real-valued steps (Generic); generating needs an Embedding or OneHot input")
    if not model.output.per_token:
        raise ValueError(f"{name} outputs one row per sequence; a language model outputs one per token "
                         "(seq_output=True on its last recurrent layer)")
    for layer in model.layers[1:]:
        if layer.is_recurrent and not isinstance(layer, Recurrent):
            raise ValueError(f"{name} has a {type(layer).__name__} layer, which reads each sequence from its end: "
                             "it cannot generate one token at a time")
    last = model.layers[-1]
    vocabulary = model._input_layer.input_size
    if not isinstance(last, Dense) or last.activation is not activations.softmax or last.n_out != vocabulary:
        raise ValueError(f"{name} does not end in a softmax over its input vocabulary (Dense(size={vocabulary}, "
                         "activation='softmax')), so its outputs are not next-id probabilities")


def recurrent_layers(model) -> list[Recurrent]:
    return [layer for layer in model.layers if isinstance(layer, Recurrent)]


def step(model, ids, states):
    """One symbolic step: ids ``(batch,)`` and each recurrent layer's states (a flat list, ``(batch,
    size)`` each, in layer order) -> (next-id probabilities ``(batch, vocabulary)``, new states)."""
    h, new_states, given = ids, [], iter(states)
    for layer in model.layers:
        if layer.is_input:
            h = layer.features(h[None, :])[0]  # one step of a (time=1, batch) input: (batch, features)
        elif isinstance(layer, Recurrent):
            h, layer_states = layer.step_once(h, [next(given) for _ in range(layer.n_states)])
            new_states += layer_states
        else:
            h = layer.output(h, None, False, None)  # Dense on (batch, features)
    return h, new_states


def _draw(probabilities, uniform, temperature, top_k=None):
    """Symbolic: one id per row, the most likely when ``temperature`` is 0, else drawn by inverse
    transform of ``uniform`` from the probabilities at that temperature, among the ``top_k`` most
    likely when ``top_k`` (a symbolic int) is given."""
    vocabulary = probabilities.shape[1]
    logits = T.log(T.maximum(probabilities, 1e-30)) / T.maximum(temperature, 1e-6)  # (B, V)
    if top_k is not None:  # a sort per step: only in the generator that cuts to the top k
        kth = T.sort(logits, axis=1)[:, vocabulary - top_k][:, None]  # the k-th largest logit per row
        logits = T.switch(logits >= kth, logits, -np.inf)
    weights = T.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = T.cumsum(weights, axis=1)
    drawn = T.sum(cumulative <= uniform[:, None] * cumulative[:, -1:], axis=1)
    return T.switch(temperature > 0, T.minimum(drawn, vocabulary - 1), T.argmax(probabilities, axis=1))


def _generator(model, batch: int, cut_to_top_k: bool):
    """Compiled: CHUNK steps of generation. Inputs: forced ids and where to use them (CHUNK, batch),
    uniforms (CHUNK, batch), the last step's ids (batch,), temperature, top_k (when ``cut_to_top_k``),
    the states. Outputs: the id drawn at each step (CHUNK, batch), then the new states."""
    key = ("generate", batch, "top_k") if cut_to_top_k else ("generate", batch)
    if key not in model._functions:
        floatX = backend.floatX()
        forced = backend.tensor_input("forced", "int32", (CHUNK, batch))
        use_forced = backend.tensor_input("use_forced", "bool", (CHUNK, batch))
        uniforms = backend.tensor_input("uniforms", floatX, (CHUNK, batch))
        previous = backend.tensor_input("previous", "int32", (batch,))
        temperature = backend.tensor_input("temperature", floatX, ())
        top_k = backend.tensor_input("top_k", "int32", ()) if cut_to_top_k else None
        states = [backend.tensor_input(f"state{i}", floatX, (batch, layer.size))
                  for i, layer in enumerate(layer for layer in recurrent_layers(model) for _ in range(layer.n_states))]

        def one_step(forced_t, use_t, uniform_t, previous_ids, *carried):
            probabilities, new_states = step(model, T.switch(use_t, forced_t, previous_ids), carried)
            return [T.cast(_draw(probabilities, uniform_t, temperature, top_k), "int32"), *new_states]

        drawn, *all_states = backend.scan(one_step, sequences=[forced, use_forced, uniforms],
                                          outputs_info=[previous, *states])
        settings = [temperature, top_k] if cut_to_top_k else [temperature]
        model._functions[key] = backend.function(
            [forced, use_forced, uniforms, previous, *settings, *states],
            [drawn] + [s[-1] for s in all_states])
    return model._functions[key]


def sample(model, prefix, n: int, temperature: float = 1.0, seed: int | None = None,
           top_k: int | None = None):
    """The ids of ``prefix`` followed by ``n`` ids generated by ``model``. ``prefix`` is a list of ids,
    or a list of such lists to generate for several at once (one list back per prefix)."""
    _check_generator(model)
    single = len(prefix) > 0 and np.ndim(prefix[0]) == 0
    prefixes = [list(map(int, p)) for p in ([prefix] if single else prefix)]
    vocabulary = model._input_layer.input_size
    if n < 0:
        raise ValueError(f"n is how many ids to generate, 0 or more, got {n}")
    if temperature < 0:
        raise ValueError(f"temperature must be 0 (the most likely id each step) or more, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be None or at least 1, got {top_k}")
    if not prefixes:
        raise ValueError("give a prefix: a list of ids to start from")
    for i, p in enumerate(prefixes):
        if not p:
            raise ValueError(f"prefix {i} is empty: start from at least one id (e.g. the tokenizer's BOS)")
        if min(p) < 0 or max(p) >= vocabulary:
            raise ValueError(f"prefix {i} holds ids {min(p)}..{max(p)}, but the model's vocabulary is ids "
                             f"0..{vocabulary - 1}; encode it with the model's own tokenizer")
    rng = np.random.default_rng(seed)
    batch, floatX = len(prefixes), backend.floatX()
    generate = _generator(model, batch, top_k is not None)
    states = [np.zeros((batch, layer.size), floatX) for layer in recurrent_layers(model) for _ in range(layer.n_states)]
    steps = max(len(p) for p in prefixes) + n - 1  # step t reads position t and draws position t + 1
    drawn = np.zeros((steps + CHUNK, batch), np.int32)
    previous = np.zeros(batch, np.int32)
    settings = [np.asarray(temperature, floatX)]
    if top_k is not None:
        settings.append(np.asarray(min(top_k, vocabulary), np.int32))
    for start in range(0, steps, CHUNK):
        forced = np.zeros((CHUNK, batch), np.int32)
        use_forced = np.zeros((CHUNK, batch), bool)
        for i, p in enumerate(prefixes):
            part = p[start:start + CHUNK]  # the prefix ids this chunk reads, if any
            forced[:len(part), i], use_forced[:len(part), i] = part, True
        uniforms = rng.random((CHUNK, batch), dtype=np.float32).astype(floatX)
        chunk, *states = generate(forced, use_forced, uniforms, previous, *settings, *states)
        drawn[start:start + CHUNK] = np.asarray(chunk)
        previous = drawn[start + CHUNK - 1]
    texts = [p + drawn[len(p) - 1:len(p) - 1 + n, i].tolist() for i, p in enumerate(prefixes)]
    return texts[0] if single else texts
