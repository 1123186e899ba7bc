import numpy as np
import pytest
from numpy.testing import assert_allclose

from passage import inits


@pytest.mark.parametrize("name", ["uniform", "normal", "orthogonal", "glorot", "constant"])
def test_shape_and_seeded_reproducibility(name):
    init = inits.get(name)
    a = init((30, 50), np.random.default_rng(3))
    b = init((30, 50), np.random.default_rng(3))
    assert a.shape == (30, 50)
    assert_allclose(a, b)


def test_orthogonal_rows_or_columns_are_orthonormal():
    rng = np.random.default_rng(0)
    wide = inits.Orthogonal()((20, 50), rng)  # the 2015 default scale, 1.1
    tall = inits.Orthogonal(scale=2.0)((50, 20), rng)
    assert_allclose(wide @ wide.T, 1.21 * np.eye(20), atol=1e-10)
    assert_allclose(tall.T @ tall, 4 * np.eye(20), atol=1e-10)


def test_statistics_match_the_formulas():
    rng = np.random.default_rng(1)
    glorot = inits.Glorot()((400, 600), rng)
    assert abs(glorot.var() - 2.0 / (400 + 600)) < 0.03 * 2.0 / 1000
    assert np.abs(glorot).max() <= np.sqrt(6.0 / 1000)
    assert abs(inits.Normal(0.1)((500, 500), rng).std() - 0.1) < 0.002
    uniform = inits.Uniform(0.2)((500, 500), rng)
    assert abs(uniform.std() - 0.2 / np.sqrt(3)) < 0.002 and np.abs(uniform).max() <= 0.2


def test_identity_is_square_only_and_says_what_to_use():
    assert_allclose(inits.get("identity")((3, 3), None), np.eye(3))
    with pytest.raises(ValueError, match="inner_init='identity'"):
        inits.Identity()((3, 6), None)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="orthogonal"):
        inits.get("he_normal")
