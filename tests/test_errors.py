"""Bad input raises JaxinterInputError naming the argument, before any tracing."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxinter as ji
from jaxinter.errors import (
    MAX_PLAYERS,
    JaxinterInputError,
    check_bool,
    check_callable,
    check_choice,
    check_game,
    check_instance,
    check_int,
    check_int_list,
    check_key,
    check_mapping,
    check_names,
    check_number,
    check_path,
    check_pytree,
    check_shape,
    check_text,
    n_players_from_size,
)
from jaxinter.interactions import from_shapiq, to_msb, to_shapiq

GAME_FUNCTIONS = [
    (ji.moebius, "u"), (ji.zeta, "i_and"), (ji.or_interactions, "w"), (ji.or_inverse, "i_or"),
    (ji.shapley_values, "u"), (ji.banzhaf_values, "u"), (ji.interaction_index, "u"),
    (ji.transform_diagnostics, "u"),
]


@pytest.mark.parametrize("f,name", GAME_FUNCTIONS)
def test_not_power_of_two(f, name):
    with pytest.raises(JaxinterInputError, match=rf"^{name}: .*2\*\*n, got 12"):
        f(np.zeros((3, 12), np.float32))


@pytest.mark.parametrize("f,name", GAME_FUNCTIONS)
def test_nan_and_inf(f, name):
    for bad in [np.nan, np.inf, -np.inf]:
        u = np.zeros(16, np.float32)
        u[5] = bad
        with pytest.raises(JaxinterInputError, match=rf"^{name}: contains 1 NaN or infinite"):
            f(u)


def test_nan_check_can_be_skipped():
    u = np.zeros(16, np.float32)
    u[3] = np.nan
    assert np.isnan(np.asarray(ji.moebius(u, check_values=False))).any()


@pytest.mark.parametrize("f,name", GAME_FUNCTIONS)
def test_integer_and_complex_dtypes(f, name):
    for dtype in [np.int32, np.bool_, np.complex64]:
        with pytest.raises(JaxinterInputError, match=rf"^{name}: expected a real floating"):
            f(np.zeros(8, dtype))


def test_scalar_and_n_out_of_range():
    with pytest.raises(JaxinterInputError, match=r"^u: expected shape \(\.\.\., 2\*\*n\)"):
        ji.moebius(np.float32(1.0))
    with pytest.raises(JaxinterInputError, match=r"^u: n = 0 players is outside"):
        ji.moebius(np.zeros(1, np.float32))
    with pytest.raises(JaxinterInputError, match=r"^u: .*got 0"):
        ji.moebius(np.zeros((2, 0), np.float32))
    with pytest.raises(JaxinterInputError, match=rf"^u: n = {MAX_PLAYERS + 1} players"):
        n_players_from_size(2 ** (MAX_PLAYERS + 1), "u")
    with pytest.raises(JaxinterInputError, match=r"^v: n = 5 players .* 1\.\.4"):
        n_players_from_size(32, "v", max_players=4)


def test_bad_index_and_order():
    u = np.zeros(16, np.float32)
    with pytest.raises(JaxinterInputError, match=r"^index: expected one of .*'FSII'"):
        ji.interaction_index(u, "FSII", 2)
    for order in [0, 5, 2.0, "2", None]:
        with pytest.raises(JaxinterInputError, match=r"^order: expected an integer in \[1, 4\]"):
            ji.interaction_index(u, "SII", order)


def test_diagnostics_shape_mismatch():
    with pytest.raises(JaxinterInputError, match=r"^i_and: expected shape \(16,\)"):
        ji.transform_diagnostics(np.zeros(16, np.float32), np.zeros(32, np.float32))


def test_interop_errors():
    with pytest.raises(JaxinterInputError, match=r"^values: .*2\*\*n, got 6"):
        to_shapiq(np.zeros(6))
    with pytest.raises(JaxinterInputError, match=r"^values: .*2\*\*n, got 6"):
        to_msb(np.zeros(6))
    with pytest.raises(JaxinterInputError, match=r"^values: expected 16 entries"):
        from_shapiq(np.zeros(15), 4)


def test_check_game_returns_n():
    values, n = check_game(np.zeros((2, 64), np.float32))
    assert n == 6 and values.shape == (2, 64)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: check_int(True, "steps", 1), r"steps: expected an integer >= 1, got True"),
        (lambda: check_int(2.0, "steps", 1), r"steps: expected an integer >= 1, got 2.0"),
        (lambda: check_int(0, "n", 1, 20), r"n: expected an integer in \[1, 20\], got 0"),
        (lambda: check_int(None, "limit", 1), r"limit: expected an integer >= 1, got None"),
        (lambda: check_number(float("nan"), "lr", 0, low_open=True), r"lr: expected a finite"),
        (lambda: check_number(float("inf"), "rho", 0), r"rho: expected a finite number >= 0"),
        (lambda: check_number(0.0, "tol", 0, low_open=True), r"tol: expected .* > 0, got 0.0"),
        (lambda: check_number(1.0, "ratio", 0, 1, low_open=True, high_open=True),
         r"ratio: expected a finite number in \(0, 1\), got 1.0"),
        (lambda: check_number("0.1", "sigma"), r"sigma: expected a finite number, got '0.1'"),
        (lambda: check_choice("adam", "method", ("and", "andor")), r"method: expected one of"),
        (lambda: check_choice(["and"], "method", ("and",)), r"method: expected one of"),
        (lambda: check_int_list([], "depths", 2), r"depths: expected a non-empty list"),
        (lambda: check_int_list([4, 1], "depths", 2), r"depths\[1\]: expected an integer >= 2"),
        (lambda: check_int_list([4, 4], "depths", 2, distinct=True), r"depths: expected distinct"),
    ],
)
def test_hyperparameter_validators_name_the_argument(call, match):
    with pytest.raises(JaxinterInputError, match=match):
        call()


def test_hyperparameter_validators_return_clean_values():
    assert check_int(np.int64(3), "k", 1) == 3 and type(check_int(np.int64(3), "k", 1)) is int
    assert check_int(None, "k", 1, optional=True) is None
    assert check_number(np.float32(0.5), "r", 0, 1) == 0.5
    assert check_number(1, "r", 0, 1) == 1.0
    assert check_choice("and", "method", ("and", "andor")) == "and"
    assert check_int_list((3, np.int32(4)), "depths", 2, distinct=True) == (3, 4)


def test_overflow_bound_is_the_dtype_max_over_2_to_the_n():
    """Finite values whose sums over 2**n subsets may overflow are refused; just below the
    bound the transform runs and its result is finite (the bound is tight for the zeta sum)."""
    n = 4
    bound = float(np.finfo(np.float32).max) / 2**n
    below = np.full(2**n, np.nextafter(np.float32(bound), np.float32(0)), np.float32)
    assert np.isfinite(np.asarray(ji.zeta(below))).all()
    above = np.full(2**n, bound * 1.01, np.float32)
    with pytest.raises(JaxinterInputError, match=r"^i_and: expected magnitudes <= "):
        ji.zeta(above)
    assert np.isinf(np.asarray(ji.zeta(above, check_values=False))[-1])  # it would overflow


def test_type_checks_run_before_any_conversion():
    """None, strings, objects, dicts and ragged lists get the argument's name, and a game too
    large for n <= 30 is refused from its shape alone (2**31 entries are never copied)."""
    for bad in [None, "abc", np.array(["a"] * 16), {"a": 1}, [[1.0], [1.0, 2.0]],
                np.array([object()] * 16)]:
        with pytest.raises(JaxinterInputError, match=r"^u: expected (an|a numeric) array"):
            ji.moebius(bad)
    huge = np.broadcast_to(np.float32(0), (2**31,))  # a view: no memory behind it
    with pytest.raises(JaxinterInputError, match=r"^u: n = 31 players is outside"):
        ji.moebius(huge)


def test_checks_under_jit():
    """Shape, dtype and hyperparameter checks run on tracers; value checks are skipped."""
    with pytest.raises(JaxinterInputError, match=r"^u: .*2\*\*n, got 6"):
        jax.jit(ji.moebius)(np.zeros(6, np.float32))
    with pytest.raises(JaxinterInputError, match=r"^u: expected a real floating"):
        jax.jit(ji.moebius)(np.zeros(8, np.int32))
    u = np.full(8, np.nan, np.float32)
    assert np.isnan(np.asarray(jax.jit(ji.moebius)(u))).all()  # NaN scan skipped while tracing
    values = np.arange(16, dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(jax.jit(ji.to_shapiq)(values)), to_shapiq(values))
    np.testing.assert_array_equal(
        np.asarray(jax.jit(lambda v: from_shapiq(v, 4))(to_shapiq(values))), values)
    with pytest.raises(JaxinterInputError, match=r"^ratio: "):
        jax.jit(lambda a, b: ji.salient_mask(a, b, ratio=2.0))(values, values)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: check_bool(1, "include_input"), r"^include_input: expected True or False, got 1"),
        (lambda: check_bool("yes", "flag"), r"^flag: expected True or False"),
        (lambda: check_callable("f", "apply_fn"), r"^apply_fn: expected a function, got str"),
        (lambda: check_mapping([1], "config"), r"^config: expected a dict or None, got list"),
        (lambda: check_mapping(None, "readouts", optional=False),
         r"^readouts: expected a dict, got NoneType"),
        (lambda: check_names("pre_1", "layers", ("pre_1",)), r"^layers: expected a non-empty"),
        (lambda: check_names([], "layers", ("pre_1",)), r"^layers: expected a non-empty"),
        (lambda: check_names(["pre_1", 3], "layers", ("pre_1",)),
         r"^layers: expected names among \['pre_1'\], got \[3\]"),
        (lambda: check_names(["a", "a"], "layers", ("a",)), r"^layers: expected distinct"),
        (lambda: check_key(3), r"^key: expected one jax.random key .*got 3"),
        (lambda: check_key(np.zeros(2, np.float32)), r"^key: .*shape \(2,\), dtype float32"),
        (lambda: check_key(np.zeros(3, np.uint32)), r"^key: .*shape \(3,\), dtype uint32"),
        (lambda: check_key(jax.random.split(jax.random.key(0))), r"^key: .*shape \(2,\)"),
        (lambda: check_key(None), r"^key: expected one jax.random key"),
        (lambda: check_pytree(None, "variables"), r"^variables: expected a pytree of arrays"),
        (lambda: check_pytree({"params": {}}, "variables"), r"^variables: expected a pytree"),
        (lambda: check_pytree({"params": "abc"}, "variables"), r"^variables: expected an array"),
        (lambda: check_pytree({"w": np.array([object()])}, "variables"),
         r"^variables: expected a numeric array"),
    ],
)
def test_structural_validators_name_the_argument(call, match):
    with pytest.raises(JaxinterInputError, match=match):
        call()


def test_structural_validators_return_their_input():
    typed, legacy = jax.random.key(0), jax.random.PRNGKey(0)
    assert check_key(typed) is typed and check_key(legacy) is legacy
    assert check_key(None, optional=True) is None
    jax.jit(check_key)(typed)  # abstract keys pass by shape and dtype
    assert check_bool(np.bool_(True), "flag") is True
    assert check_names(["b", "a"], "layers", ("a", "b")) == ("b", "a")
    tree = {"params": {"w": np.ones(2), "n": 3}, "rng": jax.random.key(1),
            "abstract": jax.ShapeDtypeStruct((2,), np.float32)}
    assert check_pytree(tree, "variables") is tree
    assert check_mapping(None, "config") is None and check_callable(len, "fn") is len


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: check_instance("a", "result", ji.OrderSummary),
         r"^result: expected OrderSummary, got str"),
        (lambda: check_instance(3, "model", (int, str)) and check_instance(None, "m", int),
         r"^m: expected int, got NoneType"),
        (lambda: check_shape("4", "input_shape"), r"^input_shape: expected a non-empty list"),
        (lambda: check_shape((4, 0), "input_shape"), r"^input_shape\[1\]: expected an integer"),
        (lambda: check_shape(np.ones((2, 2), int), "input_shape"), r"^input_shape: expected a"),
        (lambda: check_text(3, "title"), r"^title: expected a string, got 3"),
        (lambda: check_text("", "name", empty=False), r"^name: expected a non-empty string"),
        (lambda: check_path(3, "path"), r"^path: expected a file path, got 3"),
        (lambda: check_path("", "path"), r"^path: expected a file path"),
        (lambda: check_path("/nonexistent/x", "path", exists="file"),
         r"^path: no file /nonexistent/x"),
        (lambda: check_pytree("abc", "tree", strings=True), r"^tree: expected a pytree"),
    ],
)
def test_object_and_path_validators_name_the_argument(call, match):
    with pytest.raises(JaxinterInputError, match=match):
        call()


def test_path_validator_sees_files_in_the_way(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(JaxinterInputError, match=r"^out: cannot write .*a_file is a file"):
        check_path(a_file / "sub" / "x.npz", "out", writable="file")
    with pytest.raises(JaxinterInputError, match=r"^path: expected a file path, .* is a folder"):
        check_path(tmp_path, "path", writable="file")
    with pytest.raises(JaxinterInputError, match=r"^out: expected a dir path, .* is a file"):
        check_path(a_file, "out", writable="dir")
    assert check_path(str(a_file), "path", exists="file") == a_file
    assert check_path(tmp_path / "new" / "x.npz", "path", writable="file").name == "x.npz"
    assert check_path(None, "path", optional=True) is None
    assert check_pytree({"meta": "text", "w": np.ones(2)}, "tree", strings=True)
    assert check_shape([4, 4, 1], "input_shape") == (4, 4, 1)
    assert check_text(None, "t", optional=True) is None
