"""The one door to PyTensor: every other module reaches the backend through here.

What runs
---------
PyTensor compiles our symbolic graphs for one of several *modes*:

* ``"JAX"`` (default when ``jax`` is installed; it is a dependency) -- measured fastest on CPU,
  and the same mode runs on a GPU when the installed jax has one (``pip install "jax[cuda12]"``).
  PyTensor rewrites a graph once, with its time and batch axes symbolic; XLA then lowers it once
  per input shape (each program kept on disk under the graph's digest: :func:`graph_digest`,
  :mod:`passage.executables`), and the model keeps the shapes few by bucketing sequence
  lengths. See :class:`_ShapeFoldingJAXLinker` for how symbolic shapes reach XLA.
* ``"NUMBA"`` -- PyTensor 3's own default; slow first compile, cached on disk.
* ``"CVM"`` -- the Theano-style C backend. It is fast only with a BLAS linked: when the
  ``mkl`` wheel is installed (``pip install mkl``) we link it; otherwise C-mode matrix products
  fall back to slow code.

Choose with the environment variable ``PASSAGE_MODE`` (read at import) or :func:`set_mode`.
"""
from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import functools
import glob
import hashlib
import os
import sys
import types
import warnings
from typing import Iterator, Sequence

import numpy as np

from passage import executables, malloc

malloc.keep_freed_memory()  # before the compiler's threads start (see passage/malloc.py)


def _mkl_ldflags() -> str:
    """Linker flags for the MKL wheel's runtime library, or "" when it is not installed."""
    libdir = os.path.join(sys.prefix, "lib")
    found = sorted(glob.glob(os.path.join(libdir, "libmkl_rt.so*")))
    if not found:
        return ""
    name = os.path.basename(found[-1])
    return f"-L{libdir} -l:{name} -Wl,-rpath,{libdir}"


# PyTensor reads its flags once, at import. Unless the user set them, link the MKL wheel when it is
# there, and otherwise say "no BLAS" explicitly: that silences PyTensor's import-time warning,
# which only concerns the C mode (JAX and Numba bring their own matrix products).
_user_flags = os.environ.get("PYTENSOR_FLAGS", "")
if "blas__ldflags" not in _user_flags:
    _blas = _mkl_ldflags().replace(",", r"\,")
    os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (_user_flags, f"blas__ldflags={_blas}") if f)


def _requested_cpu_devices() -> int:
    """``PASSAGE_CPU_DEVICES``: how many CPU devices a batch is split over (1, the default: no split)."""
    text = os.environ.get("PASSAGE_CPU_DEVICES", "1").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"PASSAGE_CPU_DEVICES must be a number of devices (1 or more), got {text!r}")
    return int(text)


# JAX presents the CPU as this many devices when its backend starts (on the first jax.devices(),
# after this import): XLA reads XLA_FLAGS then. See batch_mesh().
_CPU_DEVICES = _requested_cpu_devices()
if _CPU_DEVICES > 1 and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(f for f in (os.environ.get("XLA_FLAGS", ""),
                                                  f"--xla_force_host_platform_device_count={_CPU_DEVICES}") if f)

import pytensor  # noqa: E402
import pytensor.tensor as T  # noqa: E402  (re-exported: layers, costs and updates use T.dot, T.tanh, ...)
from pytensor.compile.builders import OpFromGraph  # noqa: E402
from pytensor.graph.basic import Apply  # noqa: E402
from pytensor.graph.op import Op  # noqa: E402
from pytensor.gradient import DisconnectedType, disconnected_grad  # noqa: E402

if "floatX" not in _user_flags:
    pytensor.config.floatX = "float32"  # also when pytensor was imported before us, flags unread

__all__ = ["T", "MODES", "mode", "device", "matmul_precision", "rounds_to_bfloat16", "set_mode", "floatX", "precision",
           "shared", "scan", "grad", "vjp", "custom_gradient", "dot", "dot_transposed", "contract", "function",
           "batch_mesh", "compiles_per_shape", "compile_for", "tensor_input"]

MODES = ("JAX", "NUMBA", "CVM", "FAST_COMPILE")


def _jax_available() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def _default_mode() -> str:
    chosen = os.environ.get("PASSAGE_MODE", "").upper()
    if chosen:
        if chosen not in MODES:
            raise ValueError(f"PASSAGE_MODE={chosen!r} is not one of {MODES}")
        return chosen
    return "JAX" if _jax_available() else "NUMBA"


_mode = _default_mode()


def mode() -> str:
    """The PyTensor mode that compiled functions use now."""
    return _mode


def device() -> str:
    """Where compiled functions run, e.g. 'JAX on cpu (cpu)' or 'JAX on gpu (NVIDIA H100 80GB HBM3)'.

    JAX mode runs on a GPU when the installed jax has one (``pip install "jax[cuda12]"``); to stay
    on the CPU anyway, set ``JAX_PLATFORMS=cpu`` before starting Python.
    """
    if _mode != "JAX":
        return f"{_mode} on cpu"
    import jax

    first = jax.devices()[0]
    return f"JAX on {first.platform} ({first.device_kind})"


def set_mode(name: str) -> None:
    """Compile later functions with mode ``name`` (one of ``MODES``). Functions already compiled keep
    their mode, but a model compiles lazily, each function on its first use: call this before building it."""
    global _mode
    name = name.upper()
    if name not in MODES:
        raise ValueError(f"mode {name!r} is not one of {MODES}")
    if name == "JAX" and not _jax_available():
        raise ValueError("mode 'JAX' needs jax: pip install jax")
    _mode = name


# PyTensor sums float32 in a float64 accumulator and gives argmax an int64 result; JAX, computing in
# 32 bits, warns at each trace that it keeps 32 bits. That is what we want, so the warning would
# only be noise for users.
warnings.filterwarnings("ignore", message="Explicitly requested dtype (float|int)64 requested in")
# With symbolic shapes PyTensor guards broadcasting with asserts that its JAX backend drops, saying so
# at each compile; our batches come from our own iterators, whose shapes agree.
warnings.filterwarnings("ignore", message="Skipping Assert")


def _set_jax_float64(enabled: bool) -> None:
    # JAX computes in float32 unless 64-bit support is on; with it on, some float32 graphs
    # come back partly float64, so it is on only while float64 models are built and run.
    if _mode == "JAX":
        import jax
        import pytensor.link.jax.dispatch  # noqa: F401  (sets the flag from floatX once, at import)
        jax.config.update("jax_enable_x64", enabled)


def floatX() -> str:
    """The float dtype new parameters and inputs get ("float32" unless changed by :func:`precision`)."""
    return pytensor.config.floatX


@contextlib.contextmanager
def precision(dtype: str) -> Iterator[None]:
    """Build and run models in ``dtype`` inside the block, e.g. ``with precision("float64"):``."""
    try:
        with pytensor.config.change_flags(floatX=dtype):
            _set_jax_float64(dtype == "float64")
            yield
    finally:
        _set_jax_float64(floatX() == "float64")  # floatX is the outer one again here


def shared(value: np.ndarray, name: str | None = None):
    """A shared variable holding ``value`` (a float array is cast to floatX).

    Its shape is fixed (static): XLA needs every shape known when it compiles.
    """
    value = np.asarray(value)
    if value.dtype.kind == "f":
        value = value.astype(floatX())
    return pytensor.shared(value, name=name, shape=value.shape)


def value(variable) -> np.ndarray:
    """A numpy copy of a shared variable's value, in every mode (the JAX mode holds device arrays;
    ``get_value()`` would copy one on the device, compiling a small program per shape)."""
    return np.array(variable.get_value(borrow=True))


def tensor_input(name: str, dtype: str, shape: Sequence[int | None]):
    """A symbolic input; ``shape`` entries are ints where static shapes are wanted, else None."""
    return T.tensor(name=name, dtype=dtype, shape=tuple(shape))


def scan(step, sequences, outputs_info, go_backwards=False):
    """Run ``step`` over the first (time) axis of ``sequences``; returns the stacked outputs.

    Variables ``step`` uses from outside (weights) are found by PyTensor. The outputs keep the
    sequences' static length, which PyTensor's scan forgets (XLA needs it). In JAX mode the step's
    graph is rewritten with the same light set as the rest (:func:`_jax_mode`), not PyTensor's full
    default set, when the scan is translated: the LSTM 128 training function builds in 0.70-0.71 s
    instead of 0.74-0.77 s, its steps as fast.
    """
    outputs = pytensor.scan(step, sequences=list(sequences), outputs_info=list(outputs_info),
                            go_backwards=go_backwards, return_updates=False,
                            mode=_jax_mode() if _mode == "JAX" else None)
    single = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single else list(outputs)
    steps = sequences[0].type.shape[0]
    if steps is not None:
        outputs = [T.specify_shape(o, (steps,) + (None,) * (o.ndim - 1)) for o in outputs]
    return outputs[0] if single else outputs


def grad(cost, wrt):
    return pytensor.grad(cost, wrt)


def constant(x):
    """``x`` as a constant to differentiation: gradients flow through the graph around it, never into it."""
    return disconnected_grad(x)


def vjp(output, wrt, cotangent):
    """``cotangent`` times the Jacobian of ``output`` with respect to ``wrt``: one function's backward pass."""
    return pytensor.gradient.pullback(output, wrt, cotangent)


def custom_gradient(forward, backward, inputs):
    """``forward(*inputs)`` (a list of outputs), differentiated by ``backward`` instead of through its graph.

    ``backward(inputs, outputs, cotangents)`` returns one gradient per input, ``None`` for an input
    never differentiated (a mask; taken as zero). ``cotangents`` holds what each output receives from
    above, ``None`` for an output nothing uses: so ``forward`` may return extra values for
    ``backward`` to reuse. The graph is inlined when compiled, optimised with everything around it.
    """
    def pullback(inner_inputs, outputs, cotangents):
        cotangents = [None if isinstance(c.type, DisconnectedType) else c for c in cotangents]
        grads = backward(inner_inputs, outputs, cotangents)
        return [T.zeros_like(x) if g is None else g for x, g in zip(inner_inputs, grads)]

    placeholders = [v.type() for v in inputs]  # the inner graph's own inputs
    op = OpFromGraph(placeholders, list(forward(*placeholders)), pullback=pullback, inline=True)
    return op(*inputs, return_list=True)


class Contract(Op):
    """``np.tensordot(a, b, (axes_a, axes_b))``: sums of products over the given axes of both operands;
    the result has ``a``'s other axes, then ``b``'s. In JAX mode one ``dot_general``, with no reshape of
    the operands: a batch axis split over devices (:func:`batch_mesh`) stays split (PyTensor's
    ``tensordot`` reshapes, which gathers the whole batch on each device). With :func:`rounds_to_bfloat16`,
    float32 operands are rounded to bfloat16 and their products summed in float32."""

    __props__ = ("axes_a", "axes_b")

    def __init__(self, axes_a: Sequence[int], axes_b: Sequence[int]):
        self.axes_a, self.axes_b = tuple(int(a) for a in axes_a), tuple(int(b) for b in axes_b)

    def make_node(self, a, b):
        a, b = T.as_tensor_variable(a), T.as_tensor_variable(b)
        free_a = [a.type.shape[i] for i in range(a.ndim) if i not in self.axes_a]
        free_b = [b.type.shape[i] for i in range(b.ndim) if i not in self.axes_b]
        out = T.tensor(dtype=pytensor.scalar.upcast(a.dtype, b.dtype), shape=tuple(free_a + free_b))
        return Apply(self, [a, b], [out])

    def perform(self, node, inputs, output_storage):
        a, b = inputs
        output_storage[0][0] = np.asarray(np.tensordot(a, b, (self.axes_a, self.axes_b)), dtype=node.outputs[0].dtype)

    def pullback(self, inputs, outputs, cotangents):
        a, b = inputs
        (d_out,) = cotangents
        free_a = [i for i in range(a.ndim) if i not in self.axes_a]
        free_b = [i for i in range(b.ndim) if i not in self.axes_b]
        n_a = len(free_a)
        # d_out against b over b's free axes: a's free axes, then b's summed ones in b's order, named as a's
        d_a = contract(d_out, b, range(n_a, d_out.ndim), free_b)
        order_a = free_a + [self.axes_a[self.axes_b.index(i)] for i in sorted(self.axes_b)]
        d_b = contract(a, d_out, free_a, range(n_a))
        order_b = [self.axes_b[self.axes_a.index(i)] for i in sorted(self.axes_a)] + free_b
        return [d_a.transpose([order_a.index(i) for i in range(a.ndim)]),
                d_b.transpose([order_b.index(i) for i in range(b.ndim)])]


def dot(a, b):
    """The matrix product ``a b`` of ``a`` (..., k) and ``b`` (k, n): ``T.dot``, in JAX mode as one
    ``dot_general`` (:class:`Contract`), whose inputs follow :func:`rounds_to_bfloat16`."""
    if _mode != "JAX":
        return T.dot(a, b)
    return Contract([a.ndim - 1], [0])(a, b)


def dot_transposed(a, b):
    """``a bᵀ`` of ``a`` (..., k) and ``b`` (n, k), as :func:`dot`; in JAX mode ``b`` is not transposed but
    read along its rows (in bfloat16 a loop's transposed copy costs more than the product gains)."""
    if _mode != "JAX":
        return T.dot(a, b.T)
    return Contract([a.ndim - 1], [1])(a, b)


def contract(a, b, axes_a, axes_b):
    """Sums of products over ``axes_a`` of ``a`` and ``axes_b`` of ``b`` (as ``np.tensordot``): e.g.
    ``contract(x, W, [2], [0])`` is ``x W`` for every step and sequence of ``x`` (time, batch, n_in), and
    ``contract(h, d, [0, 1], [0, 1])`` sums ``h_t^T d_t`` over steps and sequences."""
    if _mode != "JAX":  # PyTensor's own: the other modes have no translation of Contract
        return T.tensordot(a, b, [list(axes_a), list(axes_b)])
    return Contract(axes_a, axes_b)(a, b)


def function(inputs, outputs, updates=(), batch_axes: Sequence[int | None] = ()):
    """Compile with the current mode. ``batch_axes``: for each of the first inputs, the axis its
    sequences run along (None: it has none), so that a batch can be split over devices (:func:`batch_mesh`)."""
    mode = _jax_mode() if _mode == "JAX" else _mode
    compiled = pytensor.function(list(inputs), outputs, updates=list(updates), mode=mode,
                                 on_unused_input="ignore")
    if compiles_per_shape(compiled):
        compiled.maker.linker.jitted.batch_axes = tuple(batch_axes)
    return compiled


@functools.cache
def batch_mesh():
    """The CPU devices each batch is split over (``PASSAGE_CPU_DEVICES``), or None: one device.

    Inside a recurrent loop XLA:CPU runs a step's products on one core. With ``PASSAGE_CPU_DEVICES=2``
    (set before Python starts) JAX presents the CPU as two devices, and each compiled function runs
    on both: the sequences of a batch split in two (a batch of a size they do not divide is not split),
    each half's loop on its own core, and the weights' gradients added across the devices. The same
    numbers as on one device, within float32 rounding. JAX mode on a CPU only, and only when JAX
    starts after Passage is imported (else JAX has chosen its devices: a warning, and one device)."""
    if _CPU_DEVICES == 1:
        return None
    import jax

    if jax.default_backend() != "cpu":
        return None
    devices = jax.devices("cpu")
    if len(devices) < _CPU_DEVICES:
        warnings.warn(f"PASSAGE_CPU_DEVICES={_CPU_DEVICES}, but JAX started before Passage was imported, with "
                      f"{len(devices)} CPU device(s): functions run on one. Import passage before jax starts "
                      f"(or set XLA_FLAGS=--xla_force_host_platform_device_count={_CPU_DEVICES} yourself)",
                      stacklevel=2)
        return None
    if _CPU_DEVICES > (os.cpu_count() or 1):
        warnings.warn(f"PASSAGE_CPU_DEVICES={_CPU_DEVICES} is more than this machine's {os.cpu_count()} cores: "
                      "devices will share cores, which is slower than one device per core", stacklevel=2)
    from jax.sharding import Mesh

    return Mesh(np.array(devices[:_CPU_DEVICES]), ("batch",))


def compiles_per_shape(function) -> bool:
    """Whether ``function`` (from :func:`function`) compiles again for each new input shape (JAX
    mode), so that :func:`compile_for` can prepare a shape before it is met. False for any other
    callable."""
    linker = getattr(getattr(function, "maker", None), "linker", None)
    return isinstance(getattr(linker, "jitted", None), executables.PerShape)


def compile_for(function, arguments) -> None:
    """Compile ``function`` for inputs shaped like ``arguments`` (its explicit inputs, in order),
    without running it: its first call with such inputs then runs at once. Thread-safe; only for
    functions that :func:`compiles_per_shape`."""
    linker = function.maker.linker
    explicit = tuple((tuple(np.shape(value)), np.dtype(variable.type.dtype), False)
                     for value, variable in zip(arguments, linker.fgraph.inputs))
    shared = executables.signature([storage[0] for storage in linker.thunk_inputs[len(explicit):]])  # as they are now
    if shared is not None:  # else (never in our models) the call compiles it
        linker.jitted.prepare(explicit + shared)


# ---- A graph's digest: what its compiled programs are kept on disk under (passage/executables.py) --


class _Unnamed(Exception):
    """A part of a graph that :func:`graph_digest` cannot describe."""


def graph_digest(fgraph) -> str | None:
    """SHA-256 of everything the JAX translation of ``fgraph`` reads: each input's type, each node's
    op (its class and parameters: PyTensor's ``__props__``, which define when two ops are equal, or
    for an op without them its attributes), its inputs' places and its outputs' types, every
    constant's value, and the graphs nested in ops (a scan's step), likewise. None when the graph
    holds something not described here (it is then compiled without our disk cache)."""
    try:
        return _describe_graph(fgraph, {})
    except _Unnamed:
        return None
    except Exception:  # noqa: BLE001 (e.g. an array of Python objects: no digest, as for any unknown part)
        warnings.warn("could not describe a compiled graph; its programs are not kept on disk", RuntimeWarning)
        return None


def _describe_graph(fgraph, described: dict) -> str:
    from pytensor.graph.basic import Constant

    places = {variable: f"in{i}" for i, variable in enumerate(fgraph.inputs)}

    def place(variable) -> str:  # an input's or a node output's place, or a constant's value
        if variable not in places:
            if not isinstance(variable, Constant):
                raise _Unnamed(variable)
            places[variable] = f"constant {_describe(variable.type, described)} {_describe(variable.data, described)}"
        return places[variable]

    lines = [_describe(variable.type, described) for variable in fgraph.inputs]
    for n, node in enumerate(fgraph.toposort()):
        inputs = ", ".join(place(v) for v in node.inputs)
        places.update((out, f"n{n}.{j}") for j, out in enumerate(node.outputs))
        lines.append(f"{_describe(node.op, described)} ({inputs}) -> "
                     f"{', '.join(_describe(out.type, described) for out in node.outputs)}")
    lines.append("out " + ", ".join(place(v) for v in fgraph.outputs))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _describe(x, described: dict) -> str:
    """Text that differs whenever ``x`` (a part of a graph) could translate differently."""
    from pytensor.graph.basic import Variable
    from pytensor.graph.fg import AbstractFunctionGraph
    from pytensor.graph.op import Op
    from pytensor.graph.type import Type
    from pytensor.scalar.basic import Composite
    from pytensor.scan.op import Scan

    if x is None or isinstance(x, (bool, int, float, complex, str, bytes)):
        return f"{type(x).__name__} {x!r}"
    if isinstance(x, np.ndarray) and not x.dtype.hasobject:
        data = np.ascontiguousarray(x)
        return f"array {data.dtype.str} {data.shape} {hashlib.sha256(data.view(np.uint8)).hexdigest()}"
    if isinstance(x, np.generic):
        return f"{x.dtype.str} {x!r}"
    if isinstance(x, np.dtype):
        return f"dtype {x.str}"
    if isinstance(x, (tuple, list)):
        return f"{type(x).__name__}({', '.join(_describe(v, described) for v in x)})"
    if isinstance(x, (set, frozenset)):
        return f"set({', '.join(sorted(_describe(v, described) for v in x))})"
    if isinstance(x, collections.abc.Mapping):
        return f"map({', '.join(sorted(f'{_describe(k, described)}: {_describe(v, described)}' for k, v in x.items()))})"
    if isinstance(x, slice):
        return f"slice({_describe((x.start, x.stop, x.step), described)})"
    if isinstance(x, type):
        return f"class {x.__module__}.{x.__qualname__}"
    if isinstance(x, types.FunctionType) and not x.__closure__:  # a module's function: its name says it
        return f"function {x.__module__}.{x.__qualname__}"
    if isinstance(x, AbstractFunctionGraph):
        return f"graph {_describe_graph(x, described)}"
    if isinstance(x, Variable):  # only a graph says what a variable is
        raise _Unnamed(x)
    if isinstance(x, (Op, Type)) or dataclasses.is_dataclass(x) or type(x).__module__.startswith("pytensor."):
        if id(x) not in described:  # an op is shared by many nodes: describe it once
            if isinstance(x, Scan):
                parts = (x.info, x.truncate_gradient, x.fgraph)
            elif isinstance(x, Composite):  # fused scalar ops (PyTensor's fusion rewrite)
                parts = (x.fgraph,)
            elif getattr(x, "__props__", None) is not None:
                parts = {name: getattr(x, name) for name in x.__props__}
            elif dataclasses.is_dataclass(x):
                parts = {field.name: getattr(x, field.name) for field in dataclasses.fields(x)}
            else:
                parts = vars(x)
            # kept with x: an object made on the fly (a property's value) must not die and lend its id to another
            described[id(x)] = x, f"{_describe(type(x), described)} {_describe(parts, described)}"
        return described[id(x)][1]
    raise _Unnamed(x)


# ---- JAX: one PyTensor rewrite per function, one XLA lowering per input shape -------------------
#
# PyTensor's JAX backend turns each node of a rewritten graph into a Python function and jax.jit
# traces the whole; jit retraces for each new input shape by itself. What stops a graph whose time
# and batch axes are symbolic is shape arithmetic: inside a trace, `T * B` computed from two
# concrete sizes is staged as a traced value, and reshape, zeros and scan lengths refuse traced
# sizes. So while our linker converts a graph, every node whose outputs are integer scalars or
# vectors (shape arithmetic) is evaluated at trace time by PyTensor's own numpy implementation when
# none of its inputs is traced (a size from an input's shape is a plain int in a trace); reshape and
# arange then take their sizes as the concrete values they are.

_folding_shapes = False  # True while _ShapeFoldingJAXLinker converts a graph (nested graphs included)


def _computes_shapes(node) -> bool:
    return node is not None and all(getattr(o.type, "ndim", 2) <= 1 and o.type.dtype.startswith(("int", "uint", "bool"))
                                    for o in node.outputs)


def _install_shape_folding() -> None:
    import jax
    from pytensor.graph.fg import AbstractFunctionGraph
    from pytensor.link.jax.dispatch.basic import jax_funcify, jax_typify
    from pytensor.link.jax.dispatch.shape import JAXShapeTuple
    from pytensor.link.utils import fgraph_to_python
    from pytensor.tensor.basic import ARange
    from pytensor.tensor.shape import Reshape, Shape
    from pytensor.tensor.type import TensorType

    def numpy_value(value, type_):  # what perform expects: an array for a tensor, a numpy scalar for a scalar
        return np.asarray(value, dtype=type_.dtype) if isinstance(type_, TensorType) else np.dtype(type_.dtype).type(value)

    def folded(convert):
        def convert_node(op, node=None, **kwargs):
            fn = convert(op, node=node, **kwargs)
            if not _computes_shapes(node) or isinstance(op, JAXShapeTuple):  # a tuple of its inputs already
                return fn

            def run(*args):
                if any(isinstance(a, jax.core.Tracer) for a in args):
                    return fn(*args)
                storage = [[None] for _ in node.outputs]  # PyTensor's own numpy implementation
                node.op.perform(node, [numpy_value(a, v.type) for a, v in zip(args, node.inputs)], storage)
                return storage[0][0] if len(storage) == 1 else [s[0] for s in storage]
            return run
        return convert_node

    pytensors_graph = jax_funcify.dispatch(AbstractFunctionGraph)
    pytensors_reshape = jax_funcify.dispatch(Reshape)
    pytensors_arange = jax_funcify.dispatch(ARange)
    pytensors_shape = jax_funcify.dispatch(Shape)

    def constant(data, dtype=None, **kwargs):
        # A graph's constant array onto the device as it is: PyTensor's jnp.array compiles a small XLA
        # program per shape for it (9 for a GRU's training function: 0.13-0.25 s of each new process).
        if not isinstance(data, np.ndarray) or data.ndim == 0:
            return jax_typify(data, dtype=dtype, **kwargs)
        return jax.device_put(np.asarray(data, dtype=dtype))

    @jax_funcify.register(AbstractFunctionGraph)
    def graph(fgraph, node=None, fgraph_name="jax_funcified_fgraph", **kwargs):
        if not _folding_shapes:
            return pytensors_graph(fgraph, node=node, fgraph_name=fgraph_name, **kwargs)
        return fgraph_to_python(fgraph, folded(jax_funcify), type_conversion_fn=constant,
                                fgraph_name=fgraph_name, **kwargs)

    @jax_funcify.register(Reshape)
    def reshape(op, node, **kwargs):
        if not _folding_shapes:
            return pytensors_reshape(op, node=node, **kwargs)
        return lambda x, shape: jax.numpy.reshape(x, tuple(int(s) for s in np.asarray(shape)))

    @jax_funcify.register(Shape)
    def shape(op, node, **kwargs):  # a traced array's shape is static: a plain vector, foldable downstream
        if not _folding_shapes:
            return pytensors_shape(op, node=node, **kwargs)
        return lambda x: np.asarray(np.shape(x), dtype=node.outputs[0].dtype)

    @jax_funcify.register(ARange)
    def arange(op, node, **kwargs):
        if not _folding_shapes:
            return pytensors_arange(op, node=node, **kwargs)
        return lambda start, stop, step: jax.numpy.arange(int(start), int(stop), int(step), dtype=op.dtype)


def _install_contract() -> None:
    import jax
    from pytensor.link.jax.dispatch.basic import jax_funcify

    @jax_funcify.register(Contract)
    def contract(op, node=None, **kwargs):
        dimensions = ((op.axes_a, op.axes_b), ((), ()))
        k = len(op.axes_a)
        leading = k > 1 and op.axes_a == op.axes_b == tuple(range(k))  # e.g. summed over steps and sequences

        def run(a, b):
            if a.dtype == b.dtype == np.float32 and rounds_to_bfloat16():
                a, b = a.astype(jax.numpy.bfloat16), b.astype(jax.numpy.bfloat16)
                # the sums stay float32; unreshaped, which is the faster form in bfloat16 (docs/speed.md)
                return jax.lax.dot_general(a, b, dimensions, preferred_element_type=np.float32)
            if leading and batch_mesh() is None:  # on one device XLA would copy both operands to another layout
                a, b = a.reshape((-1,) + a.shape[k:]), b.reshape((-1,) + b.shape[k:])
                return jax.lax.dot_general(a, b, (((0,), (0,)), ((), ())))
            return jax.lax.dot_general(a, b, dimensions)
        return run


def matmul_precision(platform: str | None = None) -> str | None:
    """The precision of float32 matrix products that JAX-mode functions are traced with: ``"highest"``
    (true float32) on a GPU, ``None`` (JAX's own default) elsewhere or when the user has chosen one.

    On NVIDIA GPUs JAX's default rounds float32 inputs of a matrix product to TensorFloat-32 (10 bits
    of mantissa, about 1e-3 relative error); Passage's models are float32 and give the same numbers
    on a CPU and a GPU, within float32 rounding. At the batch sizes of text models a recurrent step's
    products are small, so the faster TF32 tensor cores should shorten an epoch little (expected, not
    yet measured: README, Speed, "On a GPU"). To choose yourself, set JAX's own option, which Passage then
    leaves alone, e.g. ``JAX_DEFAULT_MATMUL_PRECISION=tensorfloat32`` (or ``jax.config.update(...)``
    before the first fit).
    ``platform`` is JAX's default backend unless given ("cpu", "gpu", "tpu").
    """
    import jax

    if jax.config.jax_default_matmul_precision is not None:
        return None
    return "highest" if (platform or jax.default_backend()) == "gpu" else None


def rounds_to_bfloat16() -> bool:
    """Whether JAX-mode products (:func:`dot`, :func:`dot_transposed`, :func:`contract`: the recurrent
    layers' and Dense's) round their float32 inputs to bfloat16 on the CPU, summing in float32: when JAX's
    own option asks for it, ``JAX_DEFAULT_MATMUL_PRECISION=bfloat16`` (or ``jax.config.update(
    "jax_default_matmul_precision", "bfloat16")`` before the first fit). XLA honours that option on TPUs
    and GPUs and ignores it on the CPU; Passage applies it there too, where a CPU with bfloat16
    instructions (AVX512_BF16, AMX) runs such products about twice as fast. The price is float32's
    precision in the products' inputs (8 bits of mantissa instead of 24): off by default. Read when a
    function is traced."""
    import jax

    return jax.config.jax_default_matmul_precision == "bfloat16" and jax.default_backend() == "cpu"


JAX_EXCLUDED_REWRITES = ("ShapeOpt", "local_second_to_alloc")  # why each: the comment in _jax_mode


@functools.cache
def _jax_mode(excluded: tuple[str, ...] = JAX_EXCLUDED_REWRITES):
    """PyTensor's JAX mode with :class:`_ShapeFoldingJAXLinker`, without the ``excluded`` rewrites
    (made once)."""
    from pytensor.compile.mode import Mode
    from pytensor.graph.rewriting.db import RewriteDatabaseQuery
    from pytensor.link.jax.linker import JAXLinker

    class _ShapeFoldingJAXLinker(JAXLinker):
        """JAX linker that folds shape arithmetic while it converts (see above)."""

        def fgraph_convert(self, *args, **kwargs):
            global _folding_shapes
            _folding_shapes = True
            try:
                return super().fgraph_convert(*args, **kwargs)
            finally:
                _folding_shapes = False

        def jit_compile(self, fn):
            import jax

            precision = matmul_precision()
            traced = fn
            if precision is not None:
                @functools.wraps(fn)
                def traced(*args):  # dots take their precision when traced, so set it there
                    with jax.default_matmul_precision(precision):
                        return fn(*args)
            if self.scalar_shape_inputs:  # PyTensor's wrapper passes some inputs as static ints: leave it
                return super().jit_compile(traced)
            mesh = batch_mesh()
            if mesh is None:
                jitted = super().jit_compile(traced)
            else:  # every output (new weights, a cost, predictions) whole on each device
                from jax.sharding import NamedSharding, PartitionSpec

                jitted = jax.jit(traced, out_shardings=NamedSharding(mesh, PartitionSpec()))
            digest = graph_digest(self.fgraph)  # after conversion, which rewrites scans' inner graphs
            chosen = precision or jax.config.jax_default_matmul_precision  # what rounds_to_bfloat16 reads too
            return executables.PerShape(jitted, None if digest is None else f"{digest} precision {chosen}", mesh)

        def create_jitable_thunk(self, *args, **kwargs):
            thunks, nodes, jitted = super().create_jitable_thunk(*args, **kwargs)
            self.jitted, self.thunk_inputs = jitted, thunks[0].inputs  # for compile_for()
            return thunks, nodes, jitted

    _install_shape_folding()
    _install_contract()
    # PyTensor's light rewrite set and its numerical-stability rewrites, not its fast_run set: XLA
    # fuses, specializes and schedules on its own, and the rest of fast_run (shape inference, scan
    # rewrites, fusion) took a third of the training function's compile without making its steps
    # faster (GRU 128 train function 1.05 -> 0.70 s to compile; same step time; benchmarks/bench_text.py's
    # first epoch with a warm cache 8.6 -> 8.0 s). Nor its shape inference (ShapeOpt): the JAX trace
    # knows every shape (``shape`` above), and without it a process's first training function
    # compiles in 0.77-0.81 s instead of 0.90-1.00 s, its prediction function in 0.07 s instead of
    # 0.21 s (GRU 128, three fresh processes each; the steps run as fast). Nor the stabilize set's
    # local_second_to_alloc: without shape inference, each Alloc it makes has PyTensor clone and
    # constant-fold the whole graph above it to find its static shape; popcorn's default model
    # (pooling, adversarial training) builds and compiles its training function in a median 2.9 s
    # with it and 2.1 s without, read both ways 6.4 s and 3.5 s (GRU 128; benchmarks/bench_rewrite.py,
    # five fresh processes each; the same epoch time within the runs' noise).
    rewrites = RewriteDatabaseQuery(include=["fast_compile", "jax", "stabilize"], exclude=list(excluded))
    return Mode(_ShapeFoldingJAXLinker(), rewrites)
