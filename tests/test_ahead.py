"""Compiling ahead: a pass's new batch shapes compile on a background thread, the results do not change."""
import os
import sys
import threading

import jax.monitoring
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from passage import ahead, backend
from passage.layers import Dense, Embedding, GatedRecurrent
from passage.models import RNN

traces = []  # the shapes JAX traced while a test listens, by the thread that traced them
listening = [False]


def _record(event, duration, **_):
    if listening[0] and event == "/jax/core/compile/jaxpr_trace_duration":
        traces.append(threading.current_thread().name)


jax.monitoring.register_event_duration_secs_listener(_record)


def model(seed=0):
    return RNN([Embedding(8, 20), GatedRecurrent(8, p_drop=0.2), Dense(1, activation="sigmoid")], cost="bce", seed=seed)


def data(n=200):
    rng = np.random.default_rng(0)
    X = [rng.integers(1, 20, length).tolist() for length in rng.integers(1, 24, n)]  # lengths of 7 buckets
    return X, rng.integers(0, 2, n)


def weights_after_training(monkeypatch, enabled):
    monkeypatch.setattr(ahead, "enabled", enabled)
    trained = model()
    X, Y = data()
    trained.fit(X, Y, n_epochs=2, batch_size=16)
    return trained.get_weights(), trained.predict(X)


def test_training_and_prediction_are_the_same_with_and_without_compiling_ahead(monkeypatch):
    weights, predictions = weights_after_training(monkeypatch, True)
    weights_without, predictions_without = weights_after_training(monkeypatch, False)
    for name in weights:
        assert_array_equal(weights[name], weights_without[name])
    assert_array_equal(predictions, predictions_without)


@pytest.mark.skipif(backend.mode() != "JAX", reason="only JAX compiles per shape")
@pytest.mark.parametrize("enabled", [True, False])
def test_new_shapes_are_traced_on_the_background_thread(monkeypatch, tmp_path, enabled):
    monkeypatch.setattr(ahead, "enabled", enabled)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no program kept on disk: every shape is traced
    X, Y = data()
    trained = model(seed=int(enabled))
    traces.clear()
    listening[0] = True
    try:
        trained.fit(X, Y, n_epochs=1, batch_size=16)
    finally:
        listening[0] = False
    shapes = {length for _, length in trained._iterator(16).training_plan(X, np.random.default_rng(0))}
    on_background = sum(name.startswith("passage-compile") for name in traces)
    if enabled:
        assert on_background >= len(shapes) and len(traces) == on_background
    else:
        assert on_background == 0 and len(traces) >= len(shapes)


def test_a_failed_background_compile_leaves_the_call_to_compile(monkeypatch):
    def broken(function, arguments):
        raise RuntimeError("no compiler today")
    monkeypatch.setattr(backend, "compile_for", broken)
    weights, _ = weights_after_training(monkeypatch, True)
    weights_without, _ = weights_after_training(monkeypatch, False)
    for name in weights:
        assert_array_equal(weights[name], weights_without[name])


def test_a_pass_that_ends_early_drops_the_compiles_not_started(monkeypatch):
    begun, go_on, started = threading.Event(), threading.Event(), []

    def compile_for(function, arguments):
        started.append(len(arguments[0]))
        begun.set()
        go_on.wait(10)  # the one worker is busy with the first shape while the pass ends
    monkeypatch.setattr(backend, "compiles_per_shape", lambda function: True)
    monkeypatch.setattr(backend, "compile_for", compile_for)
    handed = set()
    with ahead.Ahead(object(), [((n,), lambda n=n: [np.zeros(n)]) for n in (1, 2, 3)], handed):
        assert handed == {(1,), (2,), (3,)}
        begun.wait(10)
    go_on.set()
    ahead._worker.submit(lambda: None).result()  # the worker is done
    assert started == [1] and handed == {(1,)}  # the others are handed over again by a later pass


@pytest.mark.skipif(backend.mode() != "JAX" or not sys.platform.startswith("linux"),
                    reason="JAX compiles per shape; a Linux thread has a priority of its own")
def test_the_compile_thread_yields_to_training_which_keeps_its_priority(monkeypatch):
    monkeypatch.setattr(ahead, "enabled", True)

    def priority():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = priority()
    X, Y = data(40)
    model(seed=3).fit(X, Y, n_epochs=1, batch_size=16)
    assert priority() == before
    assert ahead._worker.submit(priority).result() == min(before + 10, 19)
