"""A recurrent loop's batch split over two CPU devices: what XLA:CPU gains when each core runs half the batch.

Inside a ``scan`` XLA:CPU runs a small step's product and its elementwise kernels on one core (the
same time with the process pinned to one core, ``taskset -c 0``); two independent loops in one
program still run one after the other. JAX can instead present the CPU as several devices
(``--xla_force_host_platform_device_count``) and run one program per device at once: with the
batch sharded over two (``NamedSharding``), each device runs the loop over its half of the batch
on its own core, and the gradient sums over the batch are added across devices at the end.

Plain JAX, no PyTensor: the 2015 GRU step (batch 64, 160 steps) as Passage writes it, its forward
loop (keeping the pre-activations), its hand-written backward loop, and the recurrent weights'
gradient as one contraction over all steps; the products over whole sequences as one ``dot_general``
and reshaped to ``(steps * batch, features)`` first (what PyTensor's ``tensordot`` does: on two devices
the reshape gathers the batch); and the gradient and Adam step of popcorn's embedding table (43,207 x
128), with each device's table added across devices or with the batch's ids and vector gradients
gathered on each device first. Each timed alone on one device and on two (each configuration in its
own process: the device count is fixed when JAX starts); each figure the median of 20 calls after a
warm-up.

    python benchmarks/bench_two_devices.py                 # GRU 128
    python benchmarks/bench_two_devices.py --hidden 512
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

STEPS, BATCH, REPEATS = 160, 64, 20
VOCABULARY, EMBEDDING = 43_207, 128  # popcorn's embedding table


def child(hidden: int, devices: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    n, sigmoid = hidden, jax.nn.sigmoid
    rng = np.random.default_rng(0)
    U = jnp.asarray(rng.standard_normal((n, 3 * n), dtype=np.float32) / np.sqrt(n))
    X = jnp.asarray(rng.standard_normal((STEPS, BATCH, 3 * n), dtype=np.float32))

    def forward(U, X):  # -> the states and [pre_zr | pre_h | r*h] of every step
        U_zr, U_h = U[:, :2 * n], U[:, 2 * n:]

        def step(h, x):
            pre_zr = x[:, :2 * n] + h @ U_zr
            zr = sigmoid(pre_zr)
            z, r = zr[:, :n], zr[:, n:]
            rh = r * h
            pre_h = x[:, 2 * n:] + rh @ U_h
            h_new = z * h + (1 - z) * jnp.tanh(pre_h)
            return h_new, (h_new, jnp.concatenate([pre_zr, pre_h, rh], 1))
        return jax.lax.scan(step, jnp.zeros((X.shape[1], n), X.dtype), X)[1]

    def backward(U, X):  # the backward loop over stand-in records of the right shapes
        U_zr, U_h = U[:, :2 * n], U[:, 2 * n:]
        pre, started = jnp.concatenate([X, X[:, :, :n]], 2), X[:, :, :n]

        def step(d_h, record):
            pre_t, h = record
            zr = sigmoid(pre_t[:, :2 * n])
            z, r = zr[:, :n], zr[:, n:]
            candidate = jnp.tanh(pre_t[:, 2 * n:3 * n])
            d_pre_h = d_h * (1 - z) * (1 - candidate ** 2)
            d_rh = d_pre_h @ U_h.T
            d_pre_zr = jnp.concatenate([d_h * (h - candidate), d_rh * h], 1) * zr * (1 - zr)
            return d_h * z + d_rh * r + d_pre_zr @ U_zr.T, jnp.concatenate([d_pre_zr, d_pre_h], 1)
        return jax.lax.scan(step, started[0], (pre, started))[1]

    def weight_gradient(U, X):  # h^T d_pre summed over steps and batch: one contraction
        return jax.lax.dot_general(X[:, :, :n], X, (((0, 1), (0, 1)), ((), ())))

    def weight_gradient_reshaped(U, X):  # the same after reshaping both to (steps * batch, features)
        return X[:, :, :n].reshape(-1, n).T @ X.reshape(-1, 3 * n)

    def projection(U, X):  # x U at every step and sequence: one contraction
        return jax.lax.dot_general(X[:, :, :n], U, (((2,), (0,)), ((), ())))

    def projection_reshaped(U, X):
        return (X[:, :, :n].reshape(-1, n) @ U).reshape(STEPS, -1, 3 * n)

    # An embedding's gradient and Adam step: popcorn's table, the batch's ids and vector gradients split.
    table = [jnp.asarray(rng.standard_normal((VOCABULARY, EMBEDDING), dtype=np.float32)) for _ in range(3)]
    ids = jnp.asarray(rng.integers(0, VOCABULARY, (STEPS, BATCH), dtype=np.int32))
    vector_gradients = jnp.asarray(rng.standard_normal((STEPS, BATCH, EMBEDDING), dtype=np.float32))

    def adam(p, m, v, ids, gradients):
        d = jnp.zeros_like(p).at[ids].add(gradients)
        m, v = 0.9 * m + 0.1 * d, 0.999 * v + 0.001 * d * d
        return p - 1e-3 * m / (jnp.sqrt(v) + 1e-8), m, v

    def embedding_added(p, m, v, ids, gradients):  # each device's table, the tables added
        return adam(p, m, v, ids, gradients)

    def embedding_gathered(p, m, v, ids, gradients):  # the ids and vector gradients gathered on each device
        if devices > 1:
            ids, gradients = (jax.lax.with_sharding_constraint(a, whole) for a in (ids, gradients))
        return adam(p, m, v, ids, gradients)

    if devices > 1:
        mesh = Mesh(np.array(jax.devices()[:devices]), ("batch",))
        whole = NamedSharding(mesh, PartitionSpec())
        X = jax.device_put(X, NamedSharding(mesh, PartitionSpec(None, "batch", None)))
        U = jax.device_put(U, whole)
        table = [jax.device_put(a, whole) for a in table]
        ids = jax.device_put(ids, NamedSharding(mesh, PartitionSpec(None, "batch")))
        vector_gradients = jax.device_put(vector_gradients, NamedSharding(mesh, PartitionSpec(None, "batch", None)))
    recurrent, embedding = (U, X), (*table, ids, vector_gradients)
    times = {}
    for function, arguments in ((forward, recurrent), (backward, recurrent), (weight_gradient, recurrent),
                                (weight_gradient_reshaped, recurrent), (projection, recurrent),
                                (projection_reshaped, recurrent), (embedding_added, embedding),
                                (embedding_gathered, embedding)):
        run = jax.jit(function)
        jax.block_until_ready(run(*arguments))
        seconds = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            jax.block_until_ready(run(*arguments))
            seconds.append(time.perf_counter() - start)
        times[function.__name__] = float(np.median(seconds))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # the device count, in a child process
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.hidden, args.child)))
        return
    results = {}
    for devices in (1, 2):
        environment = dict(os.environ, XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} "
                                                 f"--xla_force_host_platform_device_count={devices}")
        output = subprocess.run([sys.executable, __file__, "--hidden", str(args.hidden), "--child", str(devices)],
                                env=environment, check=True, capture_output=True, text=True).stdout
        results[devices] = json.loads(output.strip().splitlines()[-1])
    print(f"GRU {args.hidden}, batch {BATCH}, {STEPS} steps; ms per call (one device / two devices, batch split)")
    for name in results[1]:
        one, two = results[1][name] * 1e3, results[2][name] * 1e3
        print(f"{name:26} {one:8.2f} {two:8.2f}   {one / two:4.2f}x")


if __name__ == "__main__":
    main()
