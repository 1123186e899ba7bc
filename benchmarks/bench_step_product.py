"""How fast XLA:CPU runs a recurrent loop's per-step product, against numpy's BLAS and a host callback.

A plain JAX ``scan`` of 200 steps, each ``p = h @ U + x_t`` (batch 64, 512 -> 1,536: a GRU 512's
fused gate product; ``--hidden 128``: 128 -> 384) and a few elementwise gate-like operations; no
PyTensor. Four ways to do the product: XLA's own dot; ``jax.pure_callback`` to numpy's ``np.dot``
(the BLAS numpy ships, called from inside the compiled loop through Python); the same BLAS's
``sgemm`` called directly from the compiled loop as an XLA FFI custom call (``blas_ffi.cc``, built
here with g++ against jaxlib's headers; skipped without a compiler or numpy's bundled OpenBLAS);
and, for reference, numpy's ``np.dot`` alone 200 times in Python. Each figure is the median of 5 calls after a warm-up.

    python benchmarks/bench_step_product.py
    python benchmarks/bench_step_product.py --hidden 128
"""
import argparse
import ctypes
import glob
import os
import shutil
import subprocess
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from bench_train import median_seconds  # this folder is on the path when the script runs

BATCH, STEPS, REPEATS = 64, 200, 5


def host_dot(a, b):
    return jax.pure_callback(lambda a, b: np.dot(a, b), jax.ShapeDtypeStruct((a.shape[0], b.shape[1]), a.dtype), a, b)


def blas_ffi_dot():
    """``dot(a, b)`` as an XLA FFI custom call to numpy's OpenBLAS ``sgemm``; None without g++ or
    without numpy's bundled OpenBLAS."""
    compiler = shutil.which("g++")
    libraries = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "libscipy_openblas*.so"))
    if compiler is None or not libraries:
        return None
    built = os.path.join(tempfile.mkdtemp(), "blas_ffi.so")
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "blas_ffi.cc")
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-std=c++17", f"-I{jax.ffi.include_dir()}", source,
                    "-o", built, "-ldl"], check=True, capture_output=True)
    handler = ctypes.cdll.LoadLibrary(built)
    if handler.passage_load_blas(libraries[0].encode(), b"scipy_cblas_sgemm64_") != 0:
        return None
    jax.ffi.register_ffi_target("passage_matmul", jax.ffi.pycapsule(handler.PassageMatmul), platform="cpu")

    def dot(a, b):
        result = jax.ShapeDtypeStruct((a.shape[0], b.shape[1]), a.dtype)
        return jax.ffi.ffi_call("passage_matmul", result)(a, b)
    return dot


def loop(dot, hidden: int):
    @jax.jit
    def run(X, U, h0):
        def step(h, x):
            p = dot(h, U) + x
            h = jnp.tanh(p[:, :hidden]) * jax.nn.sigmoid(p[:, hidden:2 * hidden]) + 0.1 * p[:, 2 * hidden:]
            return h, h
        return jax.lax.scan(step, h0, X)[1]
    return run


def warm_median_seconds(call) -> float:
    call()  # compile and warm up
    return median_seconds(call, REPEATS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=512, help="the state's width; the product is 3x as wide")
    hidden = parser.parse_args().hidden
    columns = 3 * hidden
    flop = 2 * BATCH * hidden * columns * STEPS
    rng = np.random.default_rng(0)
    U = rng.standard_normal((hidden, columns), dtype=np.float32) * 0.03
    X = rng.standard_normal((STEPS, BATCH, columns), dtype=np.float32)
    h0 = np.zeros((BATCH, hidden), np.float32)
    U_j, X_j, h0_j = jnp.asarray(U), jnp.asarray(X), jnp.asarray(h0)
    print(f"{STEPS} steps of ({BATCH} x {hidden}) @ ({hidden} x {columns}), float32")
    runs = {"XLA dot in a scan": loop(jnp.dot, hidden), "numpy dot via pure_callback in a scan": loop(host_dot, hidden)}
    ffi_dot = blas_ffi_dot()
    if ffi_dot is not None:
        runs["BLAS sgemm via an XLA FFI call in a scan"] = run = loop(ffi_dot, hidden)
        difference = np.abs(np.asarray(run(X_j, U_j, h0_j) - runs["XLA dot in a scan"](X_j, U_j, h0_j))).max()
        assert difference < 1e-4, f"the FFI product differs from XLA's by {difference}"
    for name, run in runs.items():
        seconds = warm_median_seconds(lambda: run(X_j, U_j, h0_j).block_until_ready())
        print(f"{name:40} {seconds * 1e3:7.1f} ms  {flop / seconds / 1e9:5.0f} GFLOP/s")
    h = h0 + 1.0
    seconds = warm_median_seconds(lambda: [np.dot(h, U) for _ in range(STEPS)])
    print(f"{'numpy dot alone (no loop body)':40} {seconds * 1e3:7.1f} ms  {flop / seconds / 1e9:5.0f} GFLOP/s")


if __name__ == "__main__":
    main()
