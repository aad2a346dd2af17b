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
    from pinngelu.network import stats

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


# ------------------------------------------------------------ bad architectures
@pytest.mark.parametrize(
    "args,exc,phrase",
    [
        ((2, 20, 2), TypeError, r"hidden must be a sequence .* write \[20\]"),
        ((2, 20.0, 2), TypeError, r"got the number 20.0"),
        ((2, "20", 2), TypeError, r"hidden must be a sequence .* got str '20'"),
        ((2, None, 2), TypeError, r"hidden must be a sequence"),
        ((2, {20: 1}, 2), TypeError, r"hidden must be a sequence"),
        ((2, [], 2), ValueError, r"hidden is empty"),
        ((2, [20, 0], 2), ValueError, r"hidden layer 1 has width 0"),
        ((2, [-5], 2), ValueError, r"hidden layer 0 has width -5"),
        ((2, [20.5], 2), ValueError, r"hidden layer 0 has width 20.5"),
        ((2, [math.nan], 2), ValueError, r"hidden layer 0 has width nan"),
        ((2, [math.inf], 2), ValueError, r"hidden layer 0 has width inf"),
        ((2, ["20"], 2), TypeError, r"hidden layer 0 has width '20' of type str"),
        ((2, [None], 2), TypeError, r"hidden layer 0 has width None"),
        ((2, [True], 2), TypeError, r"of type bool"),
        ((0, [20], 2), ValueError, r"in_dim \(input dimension\) must be 1, 2 or 3, got 0"),
        ((4, [20], 2), ValueError, r"in_dim .* got 4"),
        ((2, [20], 0), ValueError, r"out_dim \(output dimension\) must be 1, 2 or 3, got 0"),
        ((2, [20], -1), ValueError, r"out_dim"),
        ((2.5, [20], 2), ValueError, r"in_dim \(input dimension\) must be an integer"),
        ((math.nan, [20], 2), ValueError, r"in_dim .* must be an integer, got nan"),
        (("2", [20], 2), TypeError, r"in_dim .* got str '2'"),
        ((None, [20], 2), TypeError, r"in_dim"),
        ((True, [20], 2), TypeError, r"in_dim .* got bool"),
        ((2, [20], "2"), TypeError, r"out_dim"),
        ((2, [20], 2, "swish"), ValueError, r"unknown activation 'swish'"),
        ((2, [20], 2, None), ValueError, r"unknown activation None"),
        ((2, [20], 2, 99), ValueError, r"unknown activation code 99"),
    ],
)
def test_bad_architecture_names_the_argument(args, exc, phrase):
    with pytest.raises(exc, match=phrase):
        MLP(*args)


def test_integral_floats_and_numpy_ints_are_accepted():
    mlp = MLP(np.int64(2), (20.0, np.int32(5)), 2.0)
    assert mlp == MLP(2, [20, 5], 2)
    assert type(mlp.in_dim) is int and type(mlp.out_dim) is int
    assert all(type(h) is int for h in mlp.hidden)


def test_from_dict_rejects_incomplete_architecture():
    with pytest.raises(ValueError, match=r"needs a dict with the keys"):
        MLP.from_dict({"in_dim": 2, "hidden": [3]})
    with pytest.raises(ValueError, match=r"needs a dict"):
        MLP.from_dict([2, [3], 1, "gelu"])  # type: ignore[arg-type]


# ------------------------------------------------------- damaged model files
def _write_bad_model(kind: str, path):
    mlp = MLP(2, [4], 1)
    arch = np.array(json.dumps(mlp.to_dict()))
    theta = np.zeros(mlp.n_params)
    if kind in ("truncated", "empty"):
        mlp.save(path, theta)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if kind == "truncated" else b"")
    elif kind == "text":
        path.write_text("not a model\n")
    elif kind == "npy":
        with open(path, "wb") as fh:
            np.save(fh, theta)
    elif kind == "foreign_zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hello")
    elif kind == "missing_theta":
        np.savez(path, arch=arch)
    elif kind == "other_arrays":
        np.savez(path, something=np.arange(3))
    elif kind == "bad_json":
        np.savez(path, arch=np.array("{not json"), theta=theta)
    elif kind == "arch_not_dict":
        np.savez(path, arch=np.array("[1, 2]"), theta=theta)
    elif kind == "bad_arch_values":
        d = mlp.to_dict() | {"hidden": [0]}
        np.savez(path, arch=np.array(json.dumps(d)), theta=theta)
    elif kind == "text_theta":
        np.savez(path, arch=arch, theta=np.array(["a"] * mlp.n_params))
    elif kind == "garbage_member":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("arch.npy", "garbage")
            z.writestr("theta.npy", "garbage")


@pytest.mark.parametrize(
    "kind,phrase",
    [
        ("truncated", r"not a readable .npz archive .*BadZipFile"),
        ("empty", r"not a readable .npz archive .*EOFError"),
        ("text", r"not a readable .npz archive"),
        ("npy", r"holds a single .npy array"),
        ("foreign_zip", r"lacks the entries \['arch', 'theta'\]"),
        ("missing_theta", r"lacks the entries \['theta'\]"),
        ("other_arrays", r"lacks the entries .*it holds \['something'\]"),
        ("bad_json", r"is damaged: JSONDecodeError"),
        ("arch_not_dict", r"bad architecture entry: an MLP architecture needs a dict"),
        ("bad_arch_values", r"bad architecture entry: hidden layer 0 has width 0"),
        ("text_theta", r"is damaged: ValueError"),
        ("garbage_member", r"is damaged"),
    ],
)
def test_load_damaged_or_foreign_file_names_it(tmp_path, kind, phrase):
    path = tmp_path / f"{kind}.npz"
    _write_bad_model(kind, path)
    with pytest.raises(ValueError, match=phrase) as info:
        MLP.load(path)
    assert str(path) in str(info.value)


def test_load_directory(tmp_path):
    with pytest.raises(ValueError, match=r"is a directory"):
        MLP.load(tmp_path)
