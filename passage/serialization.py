"""Model files: one zip archive holding ``passage.json`` (the configuration) and named ``.npy`` arrays.

Safe to load from anywhere: the configuration is plain JSON, arrays are read with
``allow_pickle=False``, and classes are found only among Passage's own layers, costs and updaters,
so loading never unpickles and never runs code from the file. Writes are atomic: the archive is
written to a temporary file next to the target and then renamed over it, so a crash mid-save
leaves the previous file intact.

This module knows configurations and arrays, not models: :func:`passage.models.save` and
:func:`passage.models.load` (also ``passage.utils.save/load``) turn models into both and back.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["FORMAT", "VERSION", "ModelFileError", "write", "read", "prefixed", "unprefixed", "check_shapes"]

FORMAT = "passage"
VERSION = 3  # 2: the 2015 meanings of hard_sigmoid and Adam(b1, b2); 3: Pooling(backward=...)
            # (passage.compat reads the earlier ones as they meant)
_CONFIG = "passage.json"
_ARRAYS = "arrays/"


class ModelFileError(ValueError):
    """A file that is not a readable Passage model: foreign, corrupt, truncated or too new."""


def write(path, config: dict, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write ``config`` (JSON-safe) and ``arrays`` to ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    header = {"format": FORMAT, "version": VERSION, **config}
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.writestr(_CONFIG, json.dumps(header, indent=1))
                for name, value in arrays.items():
                    buffer = io.BytesIO()
                    np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
                    archive.writestr(_ARRAYS + name + ".npy", buffer.getvalue())
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _new_file_mode())  # mkstemp makes files private (0600); save like open() would
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def read(path) -> tuple[dict, dict[str, np.ndarray]]:
    """The configuration and arrays of a file written by :func:`write`; :class:`ModelFileError` if not."""
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if _CONFIG not in names:
                raise ModelFileError(f"{path} is a zip archive but not a Passage model file (no {_CONFIG})")
            config = json.loads(archive.read(_CONFIG))
            if not isinstance(config, dict) or config.get("format") != FORMAT:
                raise ModelFileError(f"{path} is not a Passage model file")
            if not isinstance(config.get("version"), int) or config["version"] > VERSION:
                raise ModelFileError(f"{path} has format version {config.get('version')}; this Passage reads "
                                     f"up to version {VERSION}: upgrade passage to load it")
            arrays = {}
            for name in names:
                if name.startswith(_ARRAYS) and name.endswith(".npy"):
                    with archive.open(name) as file:
                        arrays[name[len(_ARRAYS):-4]] = np.lib.format.read_array(io.BytesIO(file.read()),
                                                                                 allow_pickle=False)
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise
    except zipfile.BadZipFile as error:
        raise ModelFileError(f"{path} is not a Passage model file, or it is corrupt or truncated ({error})") from None
    except (ValueError, KeyError, EOFError, OSError, UnicodeDecodeError) as error:
        # ValueError covers bad JSON and arrays that would need unpickling (refused, never run)
        raise ModelFileError(f"{path} is a damaged or unsafe Passage model file: {error}") from None
    return config, arrays


def prefixed(prefix: str, arrays: dict) -> dict:
    """Arrays named '<prefix>/<name>', as a file stores them beside others."""
    return {f"{prefix}/{name}": value for name, value in arrays.items()}


def unprefixed(prefix: str, arrays: dict) -> dict:
    """The arrays stored under '<prefix>/', by their own names."""
    return {name[len(prefix) + 1:]: value for name, value in arrays.items() if name.startswith(prefix + "/")}


def check_shapes(declared: dict[str, tuple], arrays: dict[str, np.ndarray], source: str) -> None:
    """Refuse a file whose configuration declares other parameters or shapes than its arrays hold,
    before anything of the declared sizes is allocated."""
    missing, unknown = sorted(set(declared) - set(arrays)), sorted(set(arrays) - set(declared))
    if missing or unknown:
        raise ModelFileError(f"{source} does not match its own configuration: arrays missing {missing}, "
                             f"arrays not in it {unknown}")
    for name, shape in declared.items():
        if tuple(arrays[name].shape) != tuple(shape):
            raise ModelFileError(f"{source} does not match its own configuration: {name} is declared "
                                 f"{tuple(shape)} but stored {arrays[name].shape}")
