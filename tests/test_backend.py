import json
import os
import pathlib
import platform
import re
import subprocess
import sys

import numpy as np
import pytest

from passage import backend

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "passage"


def test_only_backend_imports_pytensor():
    importers = [path.name for path in PACKAGE.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+pytensor", path.read_text(), re.MULTILINE)]
    assert importers == ["backend.py"]


def test_import_prints_no_warning():
    result = subprocess.run([sys.executable, "-W", "always", "-c", "import passage.models"],
                            capture_output=True, text=True, check=True)
    assert result.stderr == ""


def test_floatx_defaults_to_float32_and_shared_values_follow_it():
    assert backend.floatX() == "float32"
    assert backend.shared(np.zeros(3)).dtype == "float32"
    with backend.precision("float64"):
        assert backend.shared(np.zeros(3)).dtype == "float64"
    assert backend.floatX() == "float32"


def test_default_mode_is_jax_and_passage_mode_chooses_another():
    """JAX is the default (the fastest measured: benchmarks/bench_train.py); PASSAGE_MODE overrides it."""
    assert backend.mode() == "JAX"

    def mode_with(value):
        return subprocess.run([sys.executable, "-c", "from passage import backend; print(backend.mode())"],
                              capture_output=True, text=True, env={**os.environ, "PASSAGE_MODE": value})
    assert mode_with("cvm").stdout.split() == ["CVM"]
    refused = mode_with("fastest")
    assert refused.returncode != 0 and "PASSAGE_MODE='FASTEST' is not one of" in refused.stderr


HEAP_AFTER_A_LARGE_BLOCK = """
import ctypes
import sys
import numpy as np
import passage.backend

class Info(ctypes.Structure):  # glibc's struct mallinfo2
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
block = np.ones(int(sys.argv[1]) // 8)  # e.g. 100 MB: above glibc's largest mmap threshold (32 MB)
mapped = libc.mallinfo2().hblkhd
del block
print(mapped, libc.mallinfo2().fordblks)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_large_blocks_stay_in_the_heap_for_the_next_call_unless_passage_malloc_is_system():
    """passage/malloc.py: a compiled function's scratch block is reused, not mapped and faulted in anew."""
    def mapped_and_free_after(setting, size=100_000_000):
        result = subprocess.run([sys.executable, "-c", HEAP_AFTER_A_LARGE_BLOCK, str(size)], capture_output=True,
                                text=True, check=True, env={**os.environ, "PASSAGE_MALLOC": setting})
        return [int(n) for n in result.stdout.split()]

    mapped, free = mapped_and_free_after("")
    assert mapped < 10_000_000 and free >= 100_000_000  # served by the heap, and kept there after free
    mapped, free = mapped_and_free_after("system")
    assert mapped >= 100_000_000 and free < 100_000_000  # glibc's own way: a mapping, returned on free
    mapped, free = mapped_and_free_after("", size=1_500_000_000)
    assert mapped < 10_000_000 and free < 1_500_000_000  # above the 1 GiB kept: the heap's top given back
    mapped, free = mapped_and_free_after("all", size=1_500_000_000)
    assert mapped < 10_000_000 and free >= 1_500_000_000  # all: kept, whatever its size
    refused = subprocess.run([sys.executable, "-c", "import passage.backend"], capture_output=True, text=True,
                             env={**os.environ, "PASSAGE_MALLOC": "huge"})
    assert refused.returncode != 0 and "PASSAGE_MALLOC='huge' is not one of keep, all, system" in refused.stderr


def test_custom_gradient_replaces_the_derived_one():
    x = backend.tensor_input("x", "float32", (2,))
    seen = []

    def backward(inputs, outputs, cotangents):
        seen.append(cotangents[1])  # the second output is not used below
        return [3.0 * cotangents[0]]  # deliberately not d(x*x)/dx, to see it is the one used

    y, _ = backend.custom_gradient(lambda v: [v * v, v + 1.0], backward, [x])
    value, gradient = backend.function([x], [y, backend.grad(y.sum(), x)])(np.array([1.0, 2.0], "float32"))
    assert value.tolist() == [1.0, 4.0] and gradient.tolist() == [3.0, 3.0]
    assert seen == [None]


def test_recurrent_gradients_agree_across_modes():
    """The hand-written backward pass compiles in the C mode too, with the same result as JAX."""
    from passage.layers import GatedRecurrent

    rng = np.random.default_rng(0)
    layer = GatedRecurrent(size=3, seq_output=True)
    layer.build(2, rng)
    x, mask = rng.normal(size=(4, 2, 2)).astype("float32"), np.ones((4, 2), "float32")
    mask[3, 1] = 0.0

    def gradients():
        X = backend.tensor_input("x", "float32", x.shape)
        M = backend.tensor_input("mask", "float32", mask.shape)
        cost = (layer.output(X, M, train=False, masks=None) ** 2).sum()
        return backend.function([X, M], backend.grad(cost, layer.params))(x, mask)

    jax_gradients = gradients()
    try:
        backend.set_mode("CVM")
        c_gradients = gradients()
    finally:
        backend.set_mode("JAX")
    for j, c in zip(jax_gradients, c_gradients):
        np.testing.assert_allclose(c, j, rtol=1e-4, atol=1e-6)


def test_float32_products_are_full_precision_on_a_gpu_unless_the_user_chose():
    """JAX's GPU default rounds float32 products to TensorFloat-32; ours stay float32 there."""
    import jax

    assert backend.matmul_precision("gpu") == "highest"
    assert backend.matmul_precision("cpu") is None
    try:
        jax.config.update("jax_default_matmul_precision", "tensorfloat32")
        assert backend.matmul_precision("gpu") is None  # JAX's own setting, which the user chose, decides
    finally:
        jax.config.update("jax_default_matmul_precision", None)


def test_every_product_of_a_recurrent_gradient_is_traced_at_the_chosen_precision(monkeypatch):
    import jax
    from passage.layers import GatedRecurrent

    monkeypatch.setattr(backend, "matmul_precision", lambda platform=None: "highest")  # as on a GPU
    layer = GatedRecurrent(size=3, seq_output=True)
    layer.build(2, np.random.default_rng(0))
    X = backend.tensor_input("x", "float32", (None, None, 2))
    M = backend.tensor_input("mask", "float32", (None, None))
    cost = (layer.output(X, M, train=False, masks=None) ** 2).sum()
    function = backend.function([X, M], backend.grad(cost, layer.params))
    shapes = [jax.ShapeDtypeStruct((4, 2, 2), "float32"), jax.ShapeDtypeStruct((4, 2), "float32")]
    shared = [storage[0] for storage in function.maker.linker.thunk_inputs[2:]]
    products = re.findall(r"dot_general.*?precision = \[(\w+), (\w+)\]",
                          function.maker.linker.jitted.jitted.lower(*shapes, *shared).as_text())
    assert len(products) >= 4  # input and recurrent products, forward (in the loop) and backward
    assert set(products) == {("HIGHEST", "HIGHEST")}


@pytest.mark.parametrize("shape_a, shape_b, axes_a, axes_b", [
    ((4, 3, 5), (5, 6), [2], [0]),           # x W at every step and sequence
    ((4, 3, 6), (5, 6), [2], [1]),           # d W^T
    ((4, 3, 5), (4, 3, 6), [0, 1], [0, 1]),  # a weight's gradient, summed over steps and sequences
    ((3, 4, 5), (5, 3, 2), [0, 2], [1, 0]),  # summed axes in another order
])
def test_contract_is_tensordot_and_its_gradient_is_the_finite_difference(shape_a, shape_b, axes_a, axes_b):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    weights = rng.standard_normal(np.tensordot(a, b, (axes_a, axes_b)).shape)  # random: no entry hides another
    with backend.precision("float64"):
        A = backend.tensor_input("a", "float64", (None,) * a.ndim)
        B = backend.tensor_input("b", "float64", (None,) * b.ndim)
        out = backend.contract(A, B, axes_a, axes_b)
        cost = (out * weights).sum()
        value, *gradients = backend.function([A, B], [out, *backend.grad(cost, [A, B])])(a, b)

        def cost_at(a, b):
            return float((np.tensordot(a, b, (axes_a, axes_b)) * weights).sum())

        np.testing.assert_allclose(value, np.tensordot(a, b, (axes_a, axes_b)), rtol=1e-12)
        for k, (operand, gradient) in enumerate(zip((a, b), gradients)):
            numeric = np.zeros_like(operand)
            for i in np.ndindex(operand.shape):
                step = np.zeros_like(operand)
                step[i] = 1e-6
                moved = [(a, b)[j] + step if j == k else (a, b)[j] for j in (0, 1)]
                back = [(a, b)[j] - step if j == k else (a, b)[j] for j in (0, 1)]
                numeric[i] = (cost_at(*moved) - cost_at(*back)) / 2e-6
            np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-8)


SPLIT_TRAINING = """
import json
import numpy as np
from passage import backend
from passage.layers import Bidirectional, Dense, Embedding, GatedRecurrent, LstmRecurrent
from passage.models import RNN

rng = np.random.default_rng(0)
X = [rng.integers(1, 50, size=rng.integers(3, 20)) for _ in range(45)]  # batches of 16, 16, 13: the last not split
labels = rng.integers(0, 2, size=45)
tags = [rng.integers(0, 3, size=len(x)) for x in X]
per_sequence = RNN([Embedding(8, 50, p_drop=0.2), LstmRecurrent(6, p_drop=0.1), Dense(1, activation="sigmoid")],
                   seed=0, verbose=0)
per_sequence.fit(X, labels, n_epochs=2, batch_size=16)
per_token = RNN([Embedding(8, 50), Bidirectional(GatedRecurrent(6, seq_output=True)), Dense(3, activation="softmax")],
                cost="cce", seed=0, verbose=0)
per_token.fit(X, tags, n_epochs=2, batch_size=16)
mesh = backend.batch_mesh()
print(json.dumps({"devices": 1 if mesh is None else int(mesh.devices.size),
                  "weights": {f"{i}:{name}": w.tolist() for i, model in enumerate((per_sequence, per_token))
                              for name, w in model.get_weights().items()},
                  "predictions": [per_sequence.predict(X).tolist(), [p.tolist() for p in per_token.predict(X)]]}))
"""


def test_a_batch_split_over_two_cpu_devices_trains_the_same_weights(tmp_path):
    """PASSAGE_CPU_DEVICES=2: each batch's sequences split over two CPU devices (a batch of 13 not
    split), dropout, per-sequence and per-token models: the same weights as on one device."""
    def run(devices):
        result = subprocess.run([sys.executable, "-c", SPLIT_TRAINING], capture_output=True, text=True, check=True,
                                env={**os.environ, "PASSAGE_CPU_DEVICES": devices, "XDG_CACHE_HOME": str(tmp_path)})
        return json.loads(result.stdout.splitlines()[-1])

    one, two, two_read_from_disk = run("1"), run("2"), run("2")  # the last reads the programs the second kept
    assert (one["devices"], two["devices"]) == (1, 2)
    assert two_read_from_disk == two
    assert one["weights"].keys() == two["weights"].keys()
    for name in one["weights"]:
        np.testing.assert_allclose(two["weights"][name], one["weights"][name], rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(two["predictions"][0], one["predictions"][0], rtol=1e-4, atol=1e-6)
    for split, whole in zip(two["predictions"][1], one["predictions"][1]):
        np.testing.assert_allclose(split, whole, rtol=1e-4, atol=1e-6)


def test_passage_cpu_devices_is_checked_and_needs_jax_not_started():
    unsplit = {name: value for name, value in os.environ.items() if name != "XLA_FLAGS"}  # as Passage may have set it

    def run(value, code="from passage import backend; print(backend.batch_mesh())"):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**unsplit, "PASSAGE_CPU_DEVICES": value})
    refused = run("two")
    assert refused.returncode != 0 and "PASSAGE_CPU_DEVICES must be a number of devices" in refused.stderr
    started = run("2", "import jax; jax.devices(); from passage import backend; print(backend.batch_mesh())")
    assert started.stdout.split() == ["None"] and "JAX started before Passage was imported" in started.stderr
    crowded = run(str(os.cpu_count() + 1), "from passage import backend; print(backend.batch_mesh().devices.size)")
    assert crowded.stdout.split() == [str(os.cpu_count() + 1)] and "devices will share cores" in crowded.stderr


@pytest.mark.skipif(not backend.device().startswith("JAX on cpu"), reason="JAX mode on a CPU rounds")
def test_bfloat16_products_train_like_float32_and_their_programs_are_kept_apart():
    """JAX's own option chooses them; a model's programs in float32 and in bfloat16 never stand in for
    each other (the disk's programs included: the two models below have one graph)."""
    import jax
    from passage.layers import Dense, Embedding, LstmRecurrent
    from passage.models import RNN

    rng = np.random.default_rng(0)
    X = [rng.integers(1, 50, size=rng.integers(3, 20)) for _ in range(64)]
    labels = np.array([int(25 in x) for x in X])

    def trained():
        model = RNN([Embedding(8, 50), LstmRecurrent(16), Dense(1, activation="sigmoid")], seed=0, verbose=0)
        before = model.predict(X)
        model.fit(X, labels, n_epochs=3, batch_size=16)
        return before, model.predict(X), model.get_weights()

    chosen = jax.config.jax_default_matmul_precision  # the environment's, restored after
    try:
        jax.config.update("jax_default_matmul_precision", None)
        assert not backend.rounds_to_bfloat16()
        exact_before, exact_after, exact_weights = trained()
        jax.config.update("jax_default_matmul_precision", "bfloat16")
        rounded_before, rounded_after, rounded_weights = trained()
    finally:
        jax.config.update("jax_default_matmul_precision", chosen)
    assert np.abs(rounded_before - exact_before).max() > 1e-6  # not float32's program
    np.testing.assert_allclose(rounded_before, exact_before, atol=1e-3)
    np.testing.assert_allclose(rounded_after, exact_after, atol=2e-2)  # three epochs apart, by bfloat16's rounding
    for name, weight in exact_weights.items():
        np.testing.assert_allclose(rounded_weights[name], weight, atol=2e-2, err_msg=name)
