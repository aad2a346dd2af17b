"""Tests of the MLP parameter layout, initialisation and persistence."""

from __future__ import annotations

import dataclasses
import json
import math
import zipfile

import numpy as np
import pytest

from pinngelu import MLP

ARCHS = [
    (1, [3], 1, "gelu"),
    (2, [50, 50], 2, "tanh"),
    (3, [7, 5, 9], 3, "sin"),
    (2, [1, 1, 1, 1], 1, "relu"),
]


def expected_layout(d, hidden, m):
    sizes = [d, *hidden, m]
    counts = [(sizes[k] + 1) * sizes[k + 1] for k in range(len(sizes) - 1)]
    return sizes, [0, *np.cumsum(counts).tolist()]


# ------------------------------------------------------------------ layout
@pytest.mark.parametrize("arch", ARCHS, ids=str)
def test_sizes_offsets_and_n_params(arch):
    d, hidden, m, act = arch
    mlp = MLP(d, hidden, m, act)
    sizes, offsets = expected_layout(d, hidden, m)
    assert mlp.sizes.tolist() == sizes
    assert mlp.offsets.tolist() == offsets
    assert mlp.sizes.dtype == np.int64 and mlp.offsets.dtype == np.int64
    assert mlp.n_layers == len(hidden) + 1
    assert mlp.n_params == offsets[-1]
    assert mlp.n_params == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def test_n_params_known_values():
    assert MLP(2, [50, 50], 2).n_params == 50 * 3 + 50 * 51 + 2 * 51
    assert MLP(1, [3], 1).n_params == 3 * 2 + 1 * 4
    assert MLP(3, [7, 5, 9], 3).n_params == 7 * 4 + 5 * 8 + 9 * 6 + 3 * 10


@pytest.mark.parametrize("arch", ARCHS, ids=str)
def test_layer_views_layout_and_write_through(arch):
    d, hidden, m, act = arch
    mlp = MLP(d, hidden, m, act)
    theta = np.arange(mlp.n_params, dtype=np.float64)
    for k in range(mlp.n_layers):
        n_in, n_out = int(mlp.sizes[k]), int(mlp.sizes[k + 1])
        o = int(mlp.offsets[k])
        W, b = mlp.layer(theta, k)
        assert W.shape == (n_out, n_in) and b.shape == (n_out,)
        assert np.shares_memory(W, theta) and np.shares_memory(b, theta)
        # row-major W, then the bias
        ii, jj = np.meshgrid(np.arange(n_out), np.arange(n_in), indexing="ij")
        np.testing.assert_array_equal(W, o + ii * n_in + jj)
        np.testing.assert_array_equal(b, o + n_out * n_in + np.arange(n_out))
    # writes through the views reach theta, and every entry is covered exactly once
    theta2 = np.zeros(mlp.n_params)
    for k, (W, b) in enumerate(mlp.layers(theta2)):
        W += 1.0
        b += 1.0
        W[0, -1] = -(k + 1.0)
    assert np.count_nonzero(theta2 == 1.0) + mlp.n_layers == mlp.n_params
    for k in range(mlp.n_layers):
        n_in = int(mlp.sizes[k])
        assert theta2[int(mlp.offsets[k]) + n_in - 1] == -(k + 1.0)


def test_layers_reassemble_theta():
    mlp = MLP(3, [4, 6], 2)
    theta = np.random.default_rng(0).normal(size=mlp.n_params)
    flat = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in mlp.layers(theta)])
    np.testing.assert_array_equal(flat, theta)


# ------------------------------------------------------------- architecture
def test_architecture_normalisation_and_immutability():
    mlp = MLP(2, [4, 3.0], 1, "GELU")
    assert mlp.hidden == (4, 3) and isinstance(mlp.hidden, tuple)
    assert all(type(h) is int for h in mlp.hidden)
    assert mlp.activation == "gelu"
    assert MLP(2, [4], 1, 3).activation == "sin"
    assert MLP(2, [4], 1).activation == "gelu"
    assert MLP(2, [4, 3], 1) == MLP(2, (4, 3), 1)
    assert MLP(2, [4, 3], 1) != MLP(2, [4, 3], 1, "tanh")
    with pytest.raises(dataclasses.FrozenInstanceError):
        mlp.in_dim = 3  # type: ignore[misc]


def test_to_dict_round_trip():
    mlp = MLP(3, [7, 5], 2, "softplus")
    dct = mlp.to_dict()
    assert dct == {"in_dim": 3, "hidden": [7, 5], "out_dim": 2, "activation": "softplus"}
    assert json.loads(json.dumps(dct)) == dct
    assert MLP.from_dict(dct) == mlp


def test_fractional_dimensions_rejected():
    with pytest.raises(ValueError, match=r"dimension"):
        MLP(2.5, [3], 1)


# -------------------------------------------------------------------- init
@pytest.mark.parametrize("act", ["tanh", "gelu", "relu"])
def test_glorot_init_reproducible(act):
    mlp = MLP(2, [20, 10], 3, act)
    a = mlp.init(np.random.default_rng(42), "glorot")
    b = mlp.init(np.random.default_rng(42), "glorot")
    c = mlp.init(np.random.default_rng(43), "glorot")
    assert a.shape == (mlp.n_params,) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    for _, bias in mlp.layers(a):
        assert np.all(bias == 0.0)
    mlp.check_theta(a)


def test_glorot_std_statistics():
    mlp = MLP(1, [400, 300], 2, "tanh")
    theta = mlp.init(np.random.default_rng(1), "glorot")
    for W, b in mlp.layers(theta):
        n_out, n_in = W.shape
        std = math.sqrt(2.0 / (n_in + n_out))
        if W.size >= 10_000:  # wide layer: tight statistics
            assert abs(W.std() / std - 1.0) < 0.03
            assert abs(W.mean()) < 4 * std / math.sqrt(W.size)
        else:
            assert 0.7 < W.std() / std < 1.3
        assert np.all(b == 0.0)


def test_gelu_scheme_falls_back_to_glorot_for_other_activations():
    mlp = MLP(2, [8, 8], 1, "tanh")
    a = mlp.init(np.random.default_rng(3), "gelu")
    b = mlp.init(np.random.default_rng(3), "glorot")
    np.testing.assert_array_equal(a, b)


def test_gelu_scheme_init():
    stats = pytest.importorskip("pinngelu.stats")
    mlp = MLP(2, [300, 300], 1, "gelu")
    a = mlp.init(np.random.default_rng(5), "gelu")
    np.testing.assert_array_equal(a, mlp.init(np.random.default_rng(5), "gelu"))
    assert not np.array_equal(a, mlp.init(np.random.default_rng(6), "gelu"))
    gain = stats.variance_preserving_gain("gelu", 1.0)
    assert np.isfinite(gain) and gain > 0
    W0, b0 = mlp.layer(a, 0)
    W1, b1 = mlp.layer(a, 1)
    assert abs(W0.std() / math.sqrt(2.0 / (2 + 300)) - 1.0) < 0.15  # first layer: Glorot
    assert abs(W1.std() / math.sqrt(gain / 300) - 1.0) < 0.03
    assert np.all(b0 == 0.0) and np.all(b1 == 0.0)


def test_init_errors():
    mlp = MLP(2, [4], 1)
    with pytest.raises(ValueError, match=r"unknown init scheme 'he'"):
        mlp.init(np.random.default_rng(0), "he")
    with pytest.raises(ValueError, match=r"numpy.random.Generator"):
        mlp.init(0, "glorot")  # type: ignore[arg-type]


# --------------------------------------------------------------- save/load
def test_save_load_round_trip(tmp_path):
    mlp = MLP(3, [7, 5, 9], 2, "gelu_tanh")
    theta = np.random.default_rng(2).normal(size=mlp.n_params)
    path = tmp_path / "model.npz"
    mlp.save(path, theta, history=np.arange(4.0))
    assert path.exists()
    assert not (tmp_path / "model.npz.tmp").exists()
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as z:
        assert {"arch", "theta", "history"} <= set(z.files)
        assert json.loads(str(z["arch"])) == mlp.to_dict()
        np.testing.assert_array_equal(z["theta"], theta)
        np.testing.assert_array_equal(z["history"], np.arange(4.0))
    mlp2, theta2 = MLP.load(path)
    assert mlp2 == mlp
    assert mlp2.hidden == mlp.hidden and mlp2.activation == mlp.activation
    np.testing.assert_array_equal(mlp2.offsets, mlp.offsets)
    assert theta2.dtype == np.float64
    np.testing.assert_array_equal(theta2, theta)
    # str path and overwrite
    mlp.save(str(path), 2 * theta)
    np.testing.assert_array_equal(MLP.load(str(path))[1], 2 * theta)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no model file"):
        MLP.load(tmp_path / "nope.npz")


def test_save_rejects_bad_theta_without_writing(tmp_path):
    mlp = MLP(2, [4], 1)
    path = tmp_path / "bad.npz"
    with pytest.raises(ValueError, match=r"must have shape"):
        mlp.save(path, np.zeros(mlp.n_params + 1))
    bad = np.zeros(mlp.n_params)
    bad[0] = np.nan
    with pytest.raises(ValueError, match=r"NaN"):
        mlp.save(path, bad)
    assert list(tmp_path.iterdir()) == []


def test_load_inconsistent_file(tmp_path):
    mlp = MLP(2, [4], 1)
    path = tmp_path / "bad.npz"
    np.savez(path, arch=np.array(json.dumps(mlp.to_dict())), theta=np.zeros(mlp.n_params - 1))
    with pytest.raises(ValueError, match=r"must have shape"):
        MLP.load(path)


# -------------------------------------------------------------- check_theta
def test_check_theta():
    mlp = MLP(2, [3], 2)
    P = mlp.n_params
    theta = np.random.default_rng(0).normal(size=P)
    out = mlp.check_theta(theta)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, theta)
    strided = np.random.default_rng(1).normal(size=2 * P)[::2]
    out = mlp.check_theta(strided)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, strided)
    np.testing.assert_array_equal(mlp.check_theta(list(theta)), theta)
    with pytest.raises(ValueError, match=rf"must have shape \({P},\), got \({P - 1},\)"):
        mlp.check_theta(theta[:-1])
    with pytest.raises(ValueError, match=r"must have shape"):
        mlp.check_theta(theta.reshape(1, P))
    with pytest.raises(ValueError, match=r"must have shape"):
        mlp.check_theta(np.float64(1.0))
    with pytest.raises(ValueError, match=r"must be float64, got float32"):
        mlp.check_theta(theta.astype(np.float32))
    with pytest.raises(ValueError, match=r"must be float64, got int64"):
        mlp.check_theta(np.zeros(P, dtype=np.int64))
    with pytest.raises(ValueError, match=r"must be float64, got complex128"):
        mlp.check_theta(theta + 0j)
    for bad in (np.nan, np.inf, -np.inf):
        t = theta.copy()
        t[-1] = bad
        with pytest.raises(ValueError, match=r"NaN or inf"):
            mlp.check_theta(t)
