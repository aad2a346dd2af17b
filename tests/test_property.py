"""Property-based tests: random problems either train or are refused, never crash.

Each generated problem (a random polygon, slivers and near-degenerate ones included,
a random set of boundary conditions, a material near the limits of its range, a
random formulation, network, list of stages and budget) either trains a few
iterations to a finite loss and a finite field, or raises one of the library's
documented errors: ``ValueError`` or ``TypeError`` raised by pinngelu itself (with a
message), or a ``MemoryError`` (pinngelu's ``MemoryLimitError`` included).  Never a
hang, an internal exception (``AttributeError``, ``IndexError``,
``ZeroDivisionError``, numba's or NumPy's own errors, a ``ValueError`` raised inside
NumPy) or a silent NaN.

The number of examples comes from the hypothesis profile (``tests/conftest.py``):
``ci`` by default, ``PINNGELU_HYPOTHESIS_PROFILE=thorough`` for many more.
"""

from __future__ import annotations

import contextlib
import math
import signal
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, event, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import pinngelu as pg  # noqa: E402
from pinngelu.training.adaptive import density  # noqa: E402
from pinngelu.training.adaptive import draw as draw_indices  # noqa: E402

PACKAGE = Path(pg.__file__).resolve().parent

#: Seconds one example may take before it counts as a hang.
HANG_SECONDS = 120


# ---------------------------------------------------------------- the verdict
def raised_by_pinngelu(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by a line of the package (not inside NumPy, SciPy,
    numba or meshio, whose errors would be internal ones)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


#: Refusals that are symptoms of an input no check caught: a residual group built
#: with non-finite coefficients names no argument of the user's.
SYMPTOMS = ("coefficients or targets contain NaN or inf",)


def documented(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the documented refusals (see the module docstring)."""
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__module__.split(".")[0] in ("numba", "numpy", "scipy"):
        return False  # numba's typing errors, LinAlgError and the like
    if any(s in str(exc) for s in SYMPTOMS):
        return False
    return isinstance(exc, (ValueError, TypeError)) and raised_by_pinngelu(exc) and str(exc) != ""


@contextlib.contextmanager
def no_hang(seconds: int = HANG_SECONDS):
    """Fail (TimeoutError) when the body runs longer than ``seconds``."""

    def alarm(signum, frame):
        raise TimeoutError(f"no result after {seconds} s: the call hangs")

    if not hasattr(signal, "SIGALRM"):
        yield
        return
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def refused_or(call):
    """``call()``'s value, or None where it raised a documented error (any other
    exception propagates and fails the test)."""
    try:
        with no_hang():
            return call()
    except Exception as exc:
        if documented(exc):
            note(f"refused: {type(exc).__name__}: {exc}")
            event(f"refused: {type(exc).__name__}: {str(exc)[:40]}")
            return None
        raise


# ---------------------------------------------------------------- strategies
def finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def polygon_vertices(draw) -> np.ndarray:
    """Vertices of star-shaped polygons, slivers, near-degenerate polygons (a vertex
    almost on the line of its neighbours, a very short edge) and random point lists
    (which may self-intersect: the polygon is then refused)."""
    kinds = ["star", "star", "star", "sliver", "flat-vertex", "short-edge", "random"]
    kind = draw(st.sampled_from(kinds))
    if kind == "star":
        k = draw(st.integers(3, 8))
        angles = np.sort(draw(st.lists(finite(0.0, 2 * math.pi), min_size=k, max_size=k)))
        radii = np.array(draw(st.lists(finite(0.15, 1.0), min_size=k, max_size=k)))
        V = np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])
    elif kind == "sliver":
        thin = 10.0 ** draw(finite(-7.0, -1.0))
        V = draw(
            st.sampled_from(
                [
                    np.array([[0.0, 0.0], [1.0, 0.0], [1.0, thin], [0.0, thin]]),
                    np.array([[0.0, 0.0], [1.0, 0.0], [0.5, thin]]),
                    np.array([[0.0, 0.0], [1.0, 0.0], [thin, thin]]),
                ]
            )
        )
    elif kind == "flat-vertex":  # a pentagon whose fifth vertex almost lies on an edge
        eps = draw(st.sampled_from([0.0, 1e-13, 1e-9, 1e-5, 1e-2])) * draw(
            st.sampled_from([1.0, -1.0])
        )
        t = draw(finite(0.05, 0.95))
        V = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [t, 1.0 + eps], [0.0, 1.0]])
    elif kind == "short-edge":
        short = 10.0 ** draw(finite(-13.0, -2.0))
        V = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [short, 1.0], [0.0, 1.0 - short]])
    else:
        k = draw(st.integers(3, 6))
        V = np.array(draw(st.lists(st.tuples(finite(0, 1), finite(0, 1)), min_size=k, max_size=k)))
    angle = draw(st.one_of(st.just(0.0), finite(0.0, 2 * math.pi)))  # axis-aligned edges
    R = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    scale = 10.0 ** draw(st.sampled_from([-3.0, 0.0, 0.0, 2.0]))
    shift = np.array([draw(finite(-10.0, 10.0)), draw(finite(-10.0, 10.0))])
    return (np.asarray(V, dtype=float) @ R.T) * scale + shift * scale


@st.composite
def materials(draw) -> tuple:
    """Materials near the limits, as ``(constructor, arguments)``: tiny and huge
    moduli, Poisson ratios near -1 and 0.5, Lame constants given directly (a zero or
    negative lam included)."""
    how = draw(st.sampled_from(["usual", "usual", "E-nu", "lame"]))
    if how == "usual":
        return pg.Material.from_E_nu, (draw(st.sampled_from([1.0, 7e10, 2e11])), 0.3)
    if how == "E-nu":
        E = 10.0 ** draw(st.sampled_from([0.0, 11.0, -6.0, 30.0, -300.0, 300.0]))
        nu = draw(st.sampled_from([0.3, 0.0, -0.5, 0.45, 0.49, -0.999, 0.4999]))
        return pg.Material.from_E_nu, (E, nu)
    mu = draw(st.sampled_from([1.0, 8e10, 1e-3, 1e-200, 1e200, 1e-320]))
    lam = mu * draw(st.sampled_from([1.0, 0.0, -0.6, 1e3]))
    return pg.Material, (lam, mu)


LOADS = [0.0, 1e-200, 1e-3, 1.0, 1e6, 1e150]


@st.composite
def conditions(draw, parts: tuple[str, ...], lo: np.ndarray, hi: np.ndarray) -> list:
    """One condition (or none) per part, now and then a predicate's condition, a
    repeated one, and (on a quarter of the sets) weights of 0, 1 and 3."""
    out = []
    weighted = draw(st.integers(0, 3)) == 3  # weights of 0 and 3 on a quarter of the sets
    for part in parts:
        kind = draw(
            st.sampled_from(["clamp", "traction", "none", "clamp-x", "clamp-y", "pressure", "sym"])
        )
        weight = draw(st.sampled_from([1.0, 0.0, 3.0])) if weighted else 1.0
        load = draw(st.sampled_from(LOADS)) * draw(st.sampled_from([1.0, -1.0]))
        if kind == "clamp":
            value = draw(st.sampled_from([0.0, 0.0, 1e-3, -2.0, "callable"]))
            if value == "callable":

                def value(X: np.ndarray) -> np.ndarray:
                    return 1e-3 * np.column_stack([X[:, 1], -X[:, 0]])

            out.append(pg.Dirichlet(part, value, weight=weight))
        elif kind in ("clamp-x", "clamp-y"):
            out.append(pg.Dirichlet(part, 0.0, components=(int(kind == "clamp-y"),), weight=weight))
        elif kind == "traction":
            out.append(pg.Traction(part, [load, 0.5 * load], weight=weight))
        elif kind == "pressure" and draw(st.booleans()):
            out.append(pg.Pressure(part, load, weight=weight))
        elif kind == "pressure":  # a pressure varying along the part

            def pressure(X: np.ndarray, load: float = load) -> np.ndarray:
                return load * np.cos(X[:, 0]) ** 2

            out.append(pg.Pressure(part, pressure, weight=weight))
        elif kind == "sym":
            out.append(pg.Symmetry(part, weight=weight))
    if draw(st.integers(0, 5)) == 5:  # a predicate: the boundary left of x0
        frac = 10.0 ** draw(finite(-9.0, -0.3))
        x0 = float(lo[0] + frac * (hi[0] - lo[0]))

        def left_of(X: np.ndarray, x0: float = x0) -> np.ndarray:
            return X[:, 0] <= x0

        out.append(pg.Dirichlet(left_of, 0.0))
    if out and draw(st.integers(0, 9)) == 9:
        out.append(out[0])  # a condition given twice
    return out


@st.composite
def stage_lists(draw) -> tuple:
    """One to three stages of 0 to 3 iterations each, with random settings."""

    def stage():
        iters = draw(st.sampled_from([2, 1, 3, 0]))
        kind = draw(st.sampled_from(["lbfgs", "qn", "adam", "lbfgs", "qn", "lm"]))
        tl = draw(st.sampled_from([None, None, 1e-6, 5.0]))
        if kind == "adam":
            return pg.Adam(iters, 10.0 ** draw(finite(-5.0, 0.0)), time_limit=tl)
        if kind == "lbfgs":
            return pg.LBFGS(iters, time_limit=tl)
        if kind == "qn":
            return pg.QuasiNewton(iters, pg.QNConfig(draw(st.sampled_from(list(pg.QNUpdate)))), tl)
        return pg.LevenbergMarquardt(iters, time_limit=tl)

    return tuple(stage() for _ in range(draw(st.integers(1, 3))))


@st.composite
def configs(draw, collocation_ok: bool = True) -> pg.TrainConfig:
    """A training configuration with random stages and budgets."""
    adapt = None
    resample = draw(st.sampled_from([0, 0, 1, 2]))
    if draw(st.integers(0, 4)) == 4:
        adapt = pg.RAD(
            every=draw(st.integers(1, 2)),
            k=draw(st.sampled_from([0.0, 1.0, 2.0, 100.0, 1e6])),
            c=draw(st.sampled_from([0.0, 1.0])),
            pool_factor=draw(st.integers(1, 3)),
            add=draw(st.sampled_from([0.0, 0.5, 1.0])),
        )
        resample = 0
    return pg.TrainConfig(
        stages=draw(stage_lists()),
        max_evals=draw(st.sampled_from([None, None, 1, 5, 30])),
        time_limit=draw(st.sampled_from([None, None, 1e-6, 10.0])),
        print_every=0,
        resample_every=resample,
        adapt=adapt,
        calibrate_scale=draw(st.booleans()),
        solve_output_layer=draw(st.sampled_from([None, None, True, False])),
    )


@st.composite
def problems(draw) -> dict:
    """The arguments of a random problem (built in the test, where its refusal counts)."""
    V = draw(polygon_vertices())
    formulation = draw(st.sampled_from(["default", "default", "strong", "energy", "hard"]))
    body = draw(st.sampled_from([None, None, "constant", "varying"]))
    return {
        "vertices": V,
        "material": draw(materials()),
        "formulation": formulation,
        "body": body,
        "body_scale": draw(st.sampled_from(LOADS)),
        "plane_stress": draw(st.booleans()),
        "n_interior": draw(st.integers(4, 24)),
        "n_boundary": draw(st.integers(8, 40)),
        "sampling": draw(st.sampled_from(["sobol", "uniform"])),
        "seed": draw(st.integers(0, 2**16)),
        "width": draw(st.integers(1, 5)),
        "activation": draw(st.sampled_from(["gelu", "tanh", "sin", "softplus", "relu"])),
        "data": draw(st.sampled_from([0, 0, 0, 1, 5])),
        "data_scale": draw(st.sampled_from([1e-3, 0.0, 1e3])),
        "identify": draw(st.sampled_from([(), (), ("mu",), ("lam", "mu")])),
    }


def build(args: dict, conds: list) -> pg.ElasticityProblem:
    """The problem of :func:`problems` with the conditions ``conds``."""
    kw = {}
    if args["formulation"] == "strong":
        kw["formulation"] = pg.StrongForm()
    elif args["formulation"] == "energy":
        kw["formulation"] = pg.EnergyForm()
    elif args["formulation"] == "hard":
        kw["hard_dirichlet"] = True
    f = args["body_scale"]
    body = None
    if args["body"] == "constant":
        body = [0.0, -f]
    elif args["body"] == "varying":

        def body(X: np.ndarray, f: float = f) -> np.ndarray:
            return f * np.column_stack([np.sin(X[:, 1]), np.cos(X[:, 0])])

    geom = pg.Polygon(args["vertices"])
    if args["data"]:  # measured displacements at interior points
        rng = np.random.default_rng(args["seed"])
        X = geom.sample_interior(args["data"], rng)
        u = args["data_scale"] * rng.standard_normal(X.shape)
        kw["data"] = [pg.DisplacementData(X, u, name="measured")]
    make, material = args["material"]
    return pg.ElasticityProblem(
        geom,
        make(*material),
        conds,
        body,
        plane_stress=args["plane_stress"],
        n_interior=args["n_interior"],
        n_boundary=args["n_boundary"],
        sampling=args["sampling"],
        identify=args["identify"],
        **kw,
    )


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------- properties
@given(args=problems(), data=st.data())
def test_random_problem_trains_to_a_finite_loss_or_is_refused(args, data):
    with quiet():
        geom = refused_or(lambda: pg.Polygon(args["vertices"]))
        assume(geom is not None)
        lo, hi = (np.asarray(v) for v in geom.bbox)
        conds = data.draw(conditions(geom.boundary_parts, lo, hi), label="conditions")
        config = data.draw(configs(), label="config")
        prob = refused_or(lambda: build(args, conds))
        if prob is None:
            return
        mlp = pg.MLP(2, (args["width"],), 2, args["activation"])
        rng = np.random.default_rng(args["seed"])
        res = refused_or(lambda: pg.train(prob, mlp, rng=rng, config=config, out=None))
        if res is None:
            return
        note(f"stop: {res.stop_reason}; loss {res.loss}; formulation {prob.formulation}")
        event(f"trained: {prob.formulation.name}")
        assert math.isfinite(res.loss), f"silent NaN: loss {res.loss} ({res.stop_reason})"
        assert np.all(np.isfinite(res.theta)), "non-finite parameters at a finite loss"
        X = geom.sample_interior(4, np.random.default_rng(0))
        fields = refused_or(lambda: prob.solution(mlp, res).fields(X))
        for name, v in (fields or {}).items():
            assert np.all(np.isfinite(v)), f"non-finite {name} of a finite loss: {v}"
        if prob.formulation.name == "energy formulation":
            for k in refused_or(lambda: prob.stress_intensities(res)) or []:
                assert all(np.all(np.isfinite(v)) for v in k.values() if isinstance(v, float))


@settings(max_examples=max(2, settings.default.max_examples // 3))
@given(
    vertices=polygon_vertices(),
    loaded=st.integers(1, 7),
    n_interior=st.integers(4, 40),
    symmetry=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_polygon_energy_problem_trains_or_is_refused(
    vertices, loaded, n_interior, symmetry, seed
):
    """The energy formulation on any polygon (its quadrature, singular points and
    singular fields on slivers and near-degenerate corners): a clamped edge, a loaded
    one and perhaps a symmetry edge train to a finite loss, or are refused."""
    with quiet():
        geom = refused_or(lambda: pg.Polygon(vertices))
        assume(geom is not None)
        parts = geom.boundary_parts
        loaded_part = parts[1 + loaded % (len(parts) - 1)]
        conds = [pg.Dirichlet(parts[0]), pg.Traction(loaded_part, [1e6, -2e6])]
        if symmetry and len(parts) > 2:
            conds.append(pg.Symmetry(parts[(loaded + 1) % len(parts)]))
        steel = pg.Material.from_E_nu(2e11, 0.3)
        kw = {"n_interior": n_interior, "n_boundary": 32, "formulation": pg.EnergyForm()}
        prob = refused_or(lambda: pg.ElasticityProblem(geom, steel, conds, **kw))
        if prob is None:
            return
        mlp = pg.MLP(2, (3,), 2)
        config = pg.TrainConfig(stages=(pg.LBFGS(2),), print_every=0)
        rng = np.random.default_rng(seed)
        res = refused_or(lambda: pg.train(prob, mlp, rng=rng, config=config, out=None))
        if res is None:
            return
        event("trained")
        assert math.isfinite(res.loss), f"silent NaN: loss {res.loss} ({res.stop_reason})"
        assert res.energy_quadrature is not None
        assert math.isfinite(res.energy_quadrature["relative_difference"])


@given(vertices=polygon_vertices(), seed=st.integers(0, 2**16))
def test_random_polygon_samples_inside_or_is_refused(vertices, seed):
    """A polygon that is accepted has a positive area, its interior points lie inside,
    its boundary points on the boundary with unit outward normals."""
    with quiet():
        geom = refused_or(lambda: pg.Polygon(vertices))
        if geom is None:
            return
        rng = np.random.default_rng(seed)
        assert geom.measure > 0
        X = refused_or(lambda: geom.sample_interior(16, rng))
        if X is not None:
            assert X.shape == (16, 2) and np.all(np.isfinite(X))
            assert np.all(geom.contains(X, tol=1e-9 * float(np.max(np.ptp(vertices, axis=0)))))
        B = refused_or(lambda: geom.sample_boundary(16, rng))
        if B is not None:
            assert np.allclose(np.linalg.norm(B.normals, axis=1), 1.0)


SETTINGS = [True, False, None, "1", 1j, math.nan, math.inf, -1, 0, 0.5, 3, 3.0, 1e300]


@given(
    kind=st.sampled_from(["adam", "lbfgs", "qn", "lm"]),
    iters=st.sampled_from(SETTINGS),
    other=st.sampled_from(SETTINGS),
    config=st.sampled_from([None, "lbfgs", "qn", "lm", "dict"]),
)
def test_random_stage_settings_are_taken_or_refused(kind, iters, other, config):
    """A stage is built with an integer budget and a positive finite time limit, or
    refused with a ValueError or TypeError naming the setting."""
    configs_ = {
        "lbfgs": pg.optim.LBFGSConfig(),
        "qn": pg.QNConfig(),
        "lm": pg.LMConfig(),
        "dict": {"memory": 5},
    }

    def make():
        extra = {} if config is None else {"config": configs_[config]}
        if kind == "adam":
            return pg.Adam(iters, lr=other)
        cls = {"lbfgs": pg.LBFGS, "qn": pg.QuasiNewton, "lm": pg.LevenbergMarquardt}[kind]
        return cls(iters, time_limit=other, **extra)

    stage = refused_or(make)
    if stage is None:
        return
    assert isinstance(stage.iters, int) and stage.iters >= 0
    assert stage.time_limit is None or (math.isfinite(stage.time_limit) and stage.time_limit > 0)
    if kind == "adam":
        assert math.isfinite(stage.lr) and stage.lr > 0
    assert not isinstance(iters, bool) and not isinstance(other, bool)


@given(
    r=st.lists(
        st.one_of(st.just(0.0), st.floats(1e-300, 1e300), st.floats(0.0, 1.0)),
        min_size=1,
        max_size=30,
    ),
    k=st.one_of(st.sampled_from([0.0, 1.0, 2.0, 100.0, 1e6]), finite(0.0, 1e3)),
    c=st.one_of(st.just(0.0), finite(0.0, 10.0)),
    n=st.integers(0, 30),
)
def test_rad_density_is_a_distribution_ordered_like_the_residuals(r, k, c, n):
    """Wu et al.'s density over any residuals, however large or small, and any
    exponent: nonnegative, summing to 1, larger where the residual is larger, and the
    draw distinct indices."""
    r = np.array(r)
    with quiet():
        p = density(r, k, c)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    assert math.isclose(float(np.sum(p)), 1.0, rel_tol=1e-12)
    order = np.argsort(r, kind="stable")
    assert np.all(np.diff(p[order]) >= -1e-15 * np.max(p))
    idx = draw_indices(p, min(n, r.size), np.random.default_rng(0))
    assert len(set(idx.tolist())) == idx.size == min(n, r.size)


def test_energy_result_without_a_solved_output_layer_has_its_singular_fields():
    """Found by the generator: an energy run with singular fields and
    ``solve_output_layer=False`` returned no enrichment coefficients, and
    ``problem.solution(mlp, result)`` refused its own result.  The coefficients are
    zero until solved, one per field."""
    L = pg.Polygon([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]])
    steel = pg.Material.from_E_nu(2e11, 0.3)
    conds = [pg.Dirichlet("edge0"), pg.Traction("edge4", [1e6, 0.0])]
    with quiet():
        prob = pg.ElasticityProblem(L, steel, conds, n_interior=30, formulation=pg.EnergyForm())
        mlp = pg.MLP(2, (3,), 2)
        cfg = pg.TrainConfig(stages=(pg.LBFGS(1),), print_every=0, solve_output_layer=False)
        res = pg.train(prob, mlp, rng=np.random.default_rng(0), config=cfg, out=None)
        n_e = prob.enrichment().n
        assert n_e > 0 and np.array_equal(res.enrichment, np.zeros(n_e))
        u = prob.solution(mlp, res).displacement(np.array([[0.5, 0.5]]))
    assert np.all(np.isfinite(u))
