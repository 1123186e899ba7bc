"""Would one loop carrying both directions make Bidirectional faster? (issue: speed, second round)

A plain JAX measurement, no PyTensor: the 2015 GRU step (masked, batch 64, 400 steps) read both
ways, three ways:

- two scans, one per direction (what ``Bidirectional`` does now);
- one scan whose body steps both directions (two independent products per step, half the loop
  iterations);
- one scan with both directions stacked on a leading axis, each product one batched matmul.

Forward loops, and forward plus JAX's own gradient of them (our layers write their backward loop by
hand; this measures only whether pairing the loops pays). Each figure: the median of 7 calls after
a warm-up.

    python benchmarks/bench_bidirectional_loop.py
"""
import jax
import jax.numpy as jnp
import numpy as np
from bench_train import median_seconds  # this folder is on the path when the script runs

STEPS, BATCH, REPEATS = 400, 64, 7


def gru_step(x, h, U_zr, U_h, size):
    """The 2015 GRU step (steeper sigmoid gates; reset before the product), on any leading axes."""
    zr = jax.nn.sigmoid(3.75 * (x[..., :2 * size] + h @ U_zr))
    z, r = zr[..., :size], zr[..., size:]
    return z * h + (1 - z) * jnp.tanh(x[..., 2 * size:] + (r * h) @ U_h)


def masked(m, new, old):
    return m * new + (1 - m) * old


def ways(size):
    """name -> f(x_forward, x_backward, mask, weights) returning both directions' states."""
    def one(x, mask, U_zr, U_h):
        def body(h, inputs):
            x_t, m_t = inputs
            h = masked(m_t[:, None], gru_step(x_t, h, U_zr, U_h, size), h)
            return h, h
        return jax.lax.scan(body, jnp.zeros((BATCH, size)), (x, mask))[1]

    def two_scans(xf, xb, mask, w):
        return one(xf, mask, w[0], w[1]), one(xb, mask[::-1], w[2], w[3])

    def paired(xf, xb, mask, w):
        def body(states, inputs):
            a, b, m_f, m_b = inputs
            hf = masked(m_f[:, None], gru_step(a, states[0], w[0], w[1], size), states[0])
            hb = masked(m_b[:, None], gru_step(b, states[1], w[2], w[3], size), states[1])
            return (hf, hb), (hf, hb)
        zeros = jnp.zeros((BATCH, size))
        return jax.lax.scan(body, (zeros, zeros), (xf, xb, mask, mask[::-1]))[1]

    def stacked(xf, xb, mask, w):
        U_zr, U_h = jnp.stack([w[0], w[2]]), jnp.stack([w[1], w[3]])  # (2, size, ...)
        x, m = jnp.stack([xf, xb], 1), jnp.stack([mask, mask[::-1]], 1)[..., None]  # (T, 2, B, ...)

        def body(h, inputs):
            x_t, m_t = inputs
            h = masked(m_t, gru_step(x_t, h, U_zr, U_h, size), h)
            return h, h
        return jax.lax.scan(body, jnp.zeros((2, BATCH, size)), (x, m))[1]

    return {"two scans (now)": two_scans, "one paired scan": paired, "one stacked scan": stacked}


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"GRU read both ways, {STEPS} steps, batch {BATCH}, float32; median of {REPEATS} calls")
    for size in (128, 512):
        xf, xb = (jnp.asarray(rng.standard_normal((STEPS, BATCH, 3 * size)), jnp.float32) for _ in range(2))
        lengths = rng.integers(STEPS // 2, STEPS + 1, BATCH)
        mask = jnp.asarray(np.arange(STEPS)[:, None] < lengths[None, :], jnp.float32)
        weights = [jnp.asarray(rng.standard_normal(shape) / np.sqrt(size), jnp.float32)
                   for _ in range(2) for shape in ((size, 2 * size), (size, size))]
        for name, way in ways(size).items():
            forward = jax.jit(way)
            loss = jax.jit(jax.value_and_grad(lambda w, f=way: sum(jnp.sum(h) for h in f(xf, xb, mask, w))))
            times = []
            for call in (lambda: jax.block_until_ready(forward(xf, xb, mask, weights)),
                         lambda: jax.block_until_ready(loss(weights))):
                call()
                times.append(median_seconds(call, REPEATS))
            print(f"size {size:3}  {name:17}  forward {times[0] * 1e3:7.1f} ms   forward + gradient "
                  f"{times[1] * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
