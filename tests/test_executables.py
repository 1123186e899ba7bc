"""Compiled programs kept on disk under their graph's digest: a shape met before loads without tracing
and computes the same numbers; a damaged file is compiled again; a different graph never shares a file."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import jax.monitoring
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from passage import backend
from passage.layers import Dense, Embedding, GatedRecurrent
from passage.models import RNN

pytestmark = pytest.mark.skipif(backend.mode() != "JAX", reason="programs per shape are JAX mode's")

traces = []  # what JAX traced while a test listens
listening = threading.Event()


def _record(event, duration, **_):
    if listening.is_set() and event == "/jax/core/compile/jaxpr_trace_duration":
        traces.append(event)


jax.monitoring.register_event_duration_secs_listener(_record)


def model():
    return RNN([Embedding(8, 20), GatedRecurrent(8, p_drop=0.2), Dense(1, activation="sigmoid")], cost="bce", seed=0)


def data(n=96):
    rng = np.random.default_rng(0)
    X = [rng.integers(1, 20, length).tolist() for length in rng.integers(1, 12, n)]  # lengths of 4 buckets
    return X, rng.integers(0, 2, n)


def trained(traced: bool | None = None):
    """A new model (new compiled functions, as in a new process) fitted and predicting; asserts
    whether it traced anything when ``traced`` is given."""
    X, Y = data()
    traces.clear()
    listening.set()
    try:
        fitted = model()
        fitted.fit(X, Y, n_epochs=1, batch_size=16)
        predictions = fitted.predict(X)
    finally:
        listening.clear()
    if traced is not None:
        assert bool(traces) == traced
    return fitted.get_weights(), predictions


def programs(cache):
    return sorted((cache / "passage" / "xla").glob("*.xla"))


def test_a_model_built_again_loads_its_programs_without_tracing_and_computes_the_same(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    weights, predictions = trained(traced=True)
    kept = programs(tmp_path)
    assert len(kept) >= 4  # training and prediction, several lengths
    weights_again, predictions_again = trained(traced=False)
    for name in weights:
        assert_array_equal(weights[name], weights_again[name])
    assert_array_equal(predictions, predictions_again)
    assert programs(tmp_path) == kept


def test_a_damaged_program_file_is_compiled_again_and_replaced(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    weights, predictions = trained()
    for path in programs(tmp_path):
        data_ = path.read_bytes()
        path.write_bytes(data_[:len(data_) // 2] + bytes(len(data_) - len(data_) // 2))  # same size, zeros
    weights_again, predictions_again = trained(traced=True)
    for name in weights:
        assert_array_equal(weights[name], weights_again[name])
    assert_array_equal(predictions, predictions_again)
    trained(traced=False)  # the files written again are whole


def test_graphs_that_compute_differently_have_different_digests():
    x = backend.tensor_input("x", "float32", (None,))

    def digest(output):
        return backend.graph_digest(backend.function([x], output).maker.linker.fgraph)

    assert digest(x * 2) == digest(x * 2)
    assert len({digest(x * 2), digest(x * 3), digest(x + 2), digest(backend.T.tanh(x) * 2),
                digest(x[:3] * 2), digest(x[:4] * 2)}) == 6
    y = backend.tensor_input("y", "float32", (None, None))
    assert backend.graph_digest(backend.function([y], y.sum(axis=0)).maker.linker.fgraph) != \
        backend.graph_digest(backend.function([y], y.sum(axis=1)).maker.linker.fgraph)


def test_a_graph_with_an_op_it_cannot_describe_has_no_digest_runs_and_keeps_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    x = backend.tensor_input("x", "float32", (None,))
    op = backend.T.tanh(x).owner.op  # PyTensor's one tanh op

    class Opaque:
        pass
    monkeypatch.setattr(op, "__props__", op.__props__ + ("secret",), raising=False)
    monkeypatch.setattr(op, "secret", Opaque(), raising=False)
    function = backend.function([x], backend.T.tanh(x))
    assert backend.graph_digest(function.maker.linker.fgraph) is None
    assert function.maker.linker.jitted.graph is None
    assert_array_equal(function(np.zeros(3, dtype="float32")), [0, 0, 0])
    assert not programs(tmp_path)


def test_a_graph_that_fails_to_be_described_has_no_digest_and_says_so(monkeypatch):
    x = backend.tensor_input("x", "float32", (None,))
    fgraph = backend.function([x], x * 2).maker.linker.fgraph

    def broken(*args):
        raise ValueError("an unexpected part")
    monkeypatch.setattr(backend, "_describe_graph", broken)
    with pytest.warns(RuntimeWarning, match="not kept on disk"):
        assert backend.graph_digest(fgraph) is None


def test_a_program_read_from_jaxs_own_cache_is_used_but_not_kept(tmp_path):
    """A CPU program JAX read from its disk cache cannot be serialized again, so it must not be written."""
    script = textwrap.dedent(f"""
        import glob, os, numpy as np
        from passage.layers import Dense, Embedding, GatedRecurrent
        from passage.models import RNN
        def run():
            model = RNN([Embedding(8, 20), GatedRecurrent(8), Dense(1, activation="sigmoid")], cost="bce", seed=0)
            model.fit([[1, 2, 3, 4]] * 16, [0, 1] * 8, n_epochs=1, batch_size=16)
            return model.predict([[1, 2, 3, 4]] * 16)
        first = run()
        ours = glob.glob(os.path.join({str(tmp_path)!r}, "passage", "xla", "*.xla"))
        assert ours and os.listdir({str(tmp_path / "jax")!r}), "both caches written"
        for path in ours:
            os.remove(path)
        assert np.array_equal(run(), first)  # JAX's cache served the programs
        assert not glob.glob(os.path.join({str(tmp_path)!r}, "passage", "xla", "*.xla"))
    """)
    environment = dict(os.environ, XDG_CACHE_HOME=str(tmp_path), JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax"),
                       JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", PASSAGE_COMPILE_AHEAD="0")
    result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_folder_keeps_the_most_recently_used_programs_within_its_size(monkeypatch, tmp_path):
    from passage import executables

    now = time.time()
    for name, age, size in [("old.xla", 300, 40), ("used.xla", 200, 40), ("new.xla", 100, 40),
                            ("crashed.part", 7200, 10), ("writing.part", 10, 10)]:
        path = tmp_path / name
        path.write_bytes(bytes(size))
        os.utime(path, (now - age, now - age))
    monkeypatch.setattr(executables, "_KEEP_BYTES", 100)
    executables._prune(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.xla", "used.xla", "writing.part"]
