"""Compiled programs by input shape, kept on disk under the graph they compute (JAX mode).

PyTensor's JAX linker hands us one ``jax.jit`` function per compiled graph, and XLA makes one
program per input shape. JAX's own disk cache keys a program by its lowered module, so a shape met
in an earlier process is still traced and lowered before that cache is asked: for the GRU 128
training function 31 + 37 ms, then 19 ms to hash, read and load, 88 ms a shape, on a background
thread that shares two cores with training (13 shapes in the first epoch of
``benchmarks/bench_text.py``). :class:`PerShape` keys a program by a digest of the PyTensor graph
instead (``backend.graph_digest``, made once per function from the graph's ops, types and
constants), the input shapes and :func:`environment`, and loads a program met before in 15 ms,
without tracing anything.

Programs are kept in ``$XDG_CACHE_HOME/passage/xla`` (``~/.cache/passage/xla``), one file each,
checked by its SHA-256 when read, the folder kept under 2 GB (the least recently used deleted
first); delete it at any time. Its files are machine code and JAX's pickled wrappers of it, trusted
as your own programs are: keep the folder yours alone (a model file, by contrast, is never code:
:mod:`passage.serialization`). Each read and compile is reported to ``jax.monitoring`` listeners
(``/passage/program_cache/read_duration``, ``.../compile_duration``). A graph without a digest (an op
not described there) compiles in each process. JAX's own disk cache stays off unless you turn it
on (``JAX_COMPILATION_CACHE_DIR``): a CPU program that JAX read from its cache cannot be written
again (it runs, but XLA keeps no code to serialize: "Function ... not found" when loaded), so such
a program is used and not kept here.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import logging
import os
import platform
import struct
import sys
import tempfile
import threading
import time

import numpy as np

__all__ = ["PerShape", "environment", "signature"]

log = logging.getLogger("passage")

_FORMAT = b"passage-xla-program 1\n"
_WORTH_KEEPING_S = 0.05  # a program quicker to make than this is not written (tiny helper functions)
_KEEP_BYTES = 2 * 2**30  # the folder's size at most: the least recently used programs go first


def _translation_digest() -> str:
    """SHA-256 of the sources that turn a described graph into JAX code: PyTensor's own (its
    version, below) and ours, ``backend.py`` (shape folding, the linker) and this file. Any other
    change of Passage changes the graphs themselves, which their digests describe."""
    digest = hashlib.sha256()
    for name in ("backend.py", "executables.py"):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()


def _cpu() -> str:
    """The host CPU's model and features: XLA compiles CPU programs for the machine it runs on."""
    try:
        with open("/proc/cpuinfo") as info:
            lines = [line for line in info if line.startswith(("model name", "flags"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor() + platform.machine()


@functools.cache
def environment() -> str:
    """Everything besides the graph and the input shapes that decides the program XLA makes."""
    import importlib.metadata

    import jax
    import jax.extend
    import jaxlib

    backend = jax.extend.backend.get_backend()
    options = ("jax_enable_x64", "jax_default_matmul_precision", "jax_debug_nans", "jax_debug_infs",
               "jax_default_prng_impl", "jax_numpy_dtype_promotion", "jax_platforms")
    return "\n".join([
        f"passage translation {_translation_digest()}", f"python {sys.version}",
        f"pytensor {importlib.metadata.version('pytensor')} jax {jax.__version__} jaxlib {jaxlib.__version__}",
        f"backend {backend.platform} {backend.platform_version} "
        f"{[d.device_kind for d in jax.devices()]}",
        f"XLA_FLAGS {os.environ.get('XLA_FLAGS', '')}",
        *(f"{name} {getattr(jax.config, name, None)!r}" for name in options),
        _cpu()])


def _directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "passage", "xla")


@functools.cache
def _prune(directory: str) -> None:
    """Delete the least recently used programs beyond ``_KEEP_BYTES``, and files a crashed writer
    left; once per process and folder, at its first write."""
    programs, now = [], time.time()
    for entry in os.scandir(directory):
        stat = entry.stat()
        if entry.name.endswith(".xla"):
            programs.append((stat.st_mtime, stat.st_size, entry.path))
        elif entry.name.endswith(".part") and now - stat.st_mtime > 3600:
            programs.append((0, 0, entry.path))
    total = sum(size for _, size, _ in programs)
    for mtime, size, path in sorted(programs):
        if mtime and total <= _KEEP_BYTES:
            break
        with contextlib.suppress(OSError):
            os.remove(path)
        total -= size


_reads = threading.local()  # .hits: JAX's disk-cache hits of this thread's compiles


def _count_hits(event: str, **_) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _reads.hits = getattr(_reads, "hits", 0) + 1


@functools.cache
def _listen() -> None:
    import jax.monitoring

    jax.monitoring.register_event_listener(_count_hits)


def _record(event: str, start: float) -> None:
    """Report a read or a compile to JAX's monitoring listeners (``jax.monitoring``), as JAX reports its own."""
    import jax.monitoring

    jax.monitoring.record_event_duration_secs(event, time.perf_counter() - start)


def signature(arguments) -> tuple | None:
    """``((shape, dtype, weak_type), ...)`` of array arguments; None when one is not an array."""
    try:
        return tuple((a.shape, a.dtype, getattr(a, "weak_type", False)) for a in arguments)
    except AttributeError:
        return None


class PerShape:
    """``jitted`` (a ``jax.jit`` function of positional arrays) with its programs made per input
    signature, each kept in memory and, when ``graph`` (a digest of the computation) is given, on
    disk. Callable like ``jitted``; thread-safe (one lock per signature, so two shapes compile at once).

    With a ``mesh`` (``backend.batch_mesh``) each program runs on all its devices: an input with a
    batch axis (``batch_axes``, one entry per leading input, None for none) split along it when the
    devices divide its length, everything else (weights, optimizer state) whole on each device."""

    def __init__(self, jitted, graph: str | None, mesh=None):
        self.jitted = jitted
        self.graph = graph
        self.mesh = mesh
        self.batch_axes: tuple[int | None, ...] = ()
        self.programs: dict[tuple, object] = {}
        self._locks: dict[tuple, threading.Lock] = collections.defaultdict(threading.Lock)
        self._locks_lock = threading.Lock()

    def __call__(self, *arguments):
        key = signature(arguments)
        if key is None:
            return self.jitted(*arguments)
        program = self.programs.get(key)
        if program is None:
            program = self.prepare(key)
        return program(*arguments)

    def prepare(self, signature: tuple):
        """The program for arguments of ``signature`` (:func:`signature`): made once, read from
        disk when it was kept there, compiled (and kept) otherwise."""
        with self._locks_lock:
            lock = self._locks[signature]
        with lock:
            program = self.programs.get(signature)
            if program is None:
                program = self._read(signature) or self._compile(signature)
                self.programs[signature] = program
            return program

    def _path(self, signature: tuple) -> str | None:
        if self.graph is None:
            return None
        parts = [self.graph, repr(signature), environment(), repr(self._specs(signature))]
        key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        return os.path.join(_directory(), key + ".xla")

    def _structures(self, signature: tuple):
        import jax

        if self.mesh is None:
            shardings = [None] * len(signature)
        else:
            from jax.sharding import NamedSharding, PartitionSpec

            shardings = [NamedSharding(self.mesh, PartitionSpec(*spec)) for spec in self._specs(signature)]
        arguments = tuple(jax.ShapeDtypeStruct(shape, dtype, weak_type=weak, sharding=sharding)
                          for (shape, dtype, weak), sharding in zip(signature, shardings))
        return arguments, jax.tree_util.tree_structure((arguments, {}))

    def _specs(self, signature: tuple) -> list[tuple] | None:
        """Each argument's partition over the mesh: the mesh's axis name at its batch axis where the
        batch is split, else whole (``()``). One device: None. All inputs split, or none: a batch the
        devices do not divide runs whole on each device."""
        if self.mesh is None:
            return None
        devices = self.mesh.devices.size
        split = [(i, axis) for i, axis in enumerate(self.batch_axes) if axis is not None and i < len(signature)]
        divides = bool(split) and all(signature[i][0][axis] % devices == 0 for i, axis in split)
        specs = [()] * len(signature)
        for i, axis in split if divides else ():
            specs[i] = (None,) * axis + ("batch",)
        return specs

    def _read(self, signature: tuple):
        path = self._path(signature)
        if path is None or not os.path.exists(path):
            return None
        from jax.experimental import serialize_executable
        from jax.tree_util import PyTreeDef, default_registry

        start = time.perf_counter()
        try:
            with open(path, "rb") as file:
                data = file.read()
            head = len(_FORMAT)
            checksum, (tree_size,) = data[head:head + 32], struct.unpack("<Q", data[head + 32:head + 40])
            body = data[head + 40:]
            if not data.startswith(_FORMAT) or hashlib.sha256(body).digest() != checksum:
                raise ValueError("not a whole program file")
            out_tree = PyTreeDef.deserialize_using_proto(default_registry, body[:tree_size])
            program = serialize_executable.deserialize_and_load(body[tree_size:], self._structures(signature)[1],
                                                                out_tree)
            with contextlib.suppress(OSError):
                os.utime(path)  # used now: the last to be pruned
            _record("/passage/program_cache/read_duration", start)
            return program
        except Exception:  # noqa: BLE001 (a damaged or foreign file: compile again and replace it)
            log.debug("could not load the compiled program %s; compiling", path, exc_info=True)
            return None

    def _compile(self, signature: tuple):
        _listen()
        start, hits = time.perf_counter(), getattr(_reads, "hits", 0)
        arguments, in_tree = self._structures(signature)
        program = self.jitted.lower(*arguments).compile()
        _record("/passage/program_cache/compile_duration", start)
        path = self._path(signature)
        fresh = getattr(_reads, "hits", 0) == hits  # compiled here, not read from JAX's cache
        if path is not None and fresh and time.perf_counter() - start >= _WORTH_KEEPING_S:
            self._write(path, program, in_tree)
        return program

    def _write(self, path: str, program, in_tree) -> None:
        from jax.experimental import serialize_executable

        try:
            payload, serialized_in_tree, out_tree = serialize_executable.serialize(program)
            if serialized_in_tree != in_tree:
                return
            tree = out_tree.serialize_using_proto()
            body = tree + payload
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _prune(os.path.dirname(path))
            with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), delete=False, suffix=".part") as file:
                try:
                    file.write(_FORMAT + hashlib.sha256(body).digest() + struct.pack("<Q", len(tree)) + body)
                    file.close()
                    os.replace(file.name, path)  # whole or absent, also beside another process writing it
                except BaseException:
                    os.unlink(file.name)
                    raise
        except Exception:  # noqa: BLE001 (a full disk or a read-only cache: the program still runs)
            log.debug("could not keep the compiled program %s", path, exc_info=True)
