import pathlib
import re
import subprocess
import sys

import numpy as np

from passage import backend

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "passage"


def test_only_backend_imports_pytensor():
    importers = [path.name for path in PACKAGE.glob("*.py")
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


def test_default_mode_is_the_fastest_available():
    assert backend.mode() == "JAX"
    assert backend.STATIC_SHAPES

