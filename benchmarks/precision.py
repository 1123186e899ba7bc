"""The benchmarks' ``--precision``: float32 matrix products at one stated precision in every framework.

NVIDIA GPUs can run float32 matrix products on TensorFloat-32 tensor cores, which round the inputs
to 10 bits of mantissa (about 1e-3 relative error). The frameworks' defaults differ there:

* Passage computes in float32 (``passage.backend.matmul_precision``);
* JAX alone, and Keras on JAX, use TF32;
* PyTorch uses float32 for its own matrix products but TF32 inside cuDNN, where its GRU and LSTM run.

``default`` leaves each framework its own default; ``float32`` and ``tf32`` put all of them at that
one precision (JAX through ``JAX_DEFAULT_MATMUL_PRECISION``, which child processes inherit; PyTorch
through its ``fp32_precision`` settings). CPUs have no TF32: there those choices compute in float32.

``bfloat16`` rounds the products' inputs to bfloat16 and sums in float32, which CPUs with bfloat16
instructions (AVX512_BF16, AMX) run about twice as fast: Passage through the same JAX option
(``passage.backend.rounds_to_bfloat16``), PyTorch through ``torch.autocast(..., dtype=torch.bfloat16)``
around each forward pass (:func:`autocast`). Keras on JAX gets the option too, which XLA ignores on a CPU.
"""
from __future__ import annotations

import argparse
import contextlib
import os

CHOICES = {"default": None, "float32": "highest", "tf32": "tensorfloat32", "bfloat16": "bfloat16"}  # -> JAX's name
TORCH_NAMES = {"highest": "ieee", "tensorfloat32": "tf32"}


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=CHOICES, default="default",
                        help="float32 matrix products: each framework's default, or all at float32 or TF32 (on a GPU), "
                             "or bfloat16 inputs with float32 sums")


def choose(choice: str) -> str:
    """Set ``choice`` for JAX in this process's environment (children inherit it); returns a label."""
    if CHOICES[choice] is not None:
        os.environ["JAX_DEFAULT_MATMUL_PRECISION"] = CHOICES[choice]
    if choice == "bfloat16":
        return "bfloat16 inputs, float32 sums (Passage; PyTorch's autocast; Keras on a GPU only)"
    on_a_gpu = {"default": "each framework's default (Passage float32, Keras TF32, PyTorch's cuDNN TF32)",
                "float32": "float32 in every framework", "tf32": "TF32 in every framework"}[choice]
    return f"{on_a_gpu} on a GPU; float32 in every framework on a CPU"


def autocast(torch, device: str):
    """Around a PyTorch forward pass: its products in bfloat16 when :func:`choose` chose it, else nothing."""
    if os.environ.get("JAX_DEFAULT_MATMUL_PRECISION") == "bfloat16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def apply_to_torch(torch) -> None:
    """PyTorch's matrix products and cuDNN's recurrent layers at the precision :func:`choose` set."""
    jax_name = os.environ.get("JAX_DEFAULT_MATMUL_PRECISION")
    if jax_name in TORCH_NAMES:
        torch.backends.cuda.matmul.fp32_precision = TORCH_NAMES[jax_name]
        torch.backends.cudnn.rnn.fp32_precision = TORCH_NAMES[jax_name]
