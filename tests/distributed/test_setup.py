"""The distributed setup in one process: padding, mesh axes, a no-op start, local memory, the
default mesh of ``using_mesh``, value checks computed on device, and the CLI options."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

import jaxinter as ji
from jaxinter.distributed import (
    default_mesh,
    global_mesh,
    initialize,
    local_memory_limit,
    pad_to_multiple,
    split_axis,
    using_mesh,
)
from jaxinter.errors import device_scalars, is_device_array, value_range


@pytest.mark.parametrize("lib", [np, jnp])
def test_pad_to_multiple_repeats_the_last_row(lib):
    x = lib.arange(10.0).reshape(5, 2)
    padded, size = pad_to_multiple(x, 4)
    chex.assert_shape(padded, (8, 2))
    assert size == 5
    np.testing.assert_array_equal(np.asarray(padded)[5:], np.tile(np.asarray(x)[-1], (3, 1)))
    np.testing.assert_array_equal(np.asarray(padded)[:5], np.asarray(x))
    same, size = pad_to_multiple(x, 5)
    assert same is x and size == 5


def test_split_axis_and_its_errors():
    mesh = global_mesh()
    assert split_axis(mesh) == ("data", jax.device_count())
    two = Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("a", "b"))
    assert split_axis(two, "b") == ("b", 1)
    with pytest.raises(ji.JaxinterInputError, match=r"axis: expected an axis name"):
        split_axis(two)
    with pytest.raises(ji.JaxinterInputError, match=r"axis: expected one of \('a', 'b'\), got 'c'"):
        split_axis(two, "c")
    with pytest.raises(ji.JaxinterInputError, match=r"mesh: expected a jax.sharding.Mesh"):
        ji.moebius(np.zeros((2, 4), np.float32), mesh="data")


def test_initialize_without_processes_does_nothing_and_checks_its_arguments(monkeypatch):
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    assert initialize() is False and initialize(num_processes=1) is False
    assert not jax.distributed.is_initialized()
    with pytest.raises(ji.JaxinterInputError, match=r"process_id: expected an integer in \[0, 1\]"):
        initialize("127.0.0.1:1", 2, 2)
    with pytest.raises(ji.JaxinterInputError, match=r"coordinator_address: expected 'host:port'"):
        initialize("localhost", 2, 0)
    with pytest.raises(ji.JaxinterInputError, match=r"num_processes: expected an integer >= 1"):
        initialize("127.0.0.1:1", 0, 0)


def test_local_memory_limit_is_this_hosts():
    ram = __import__("os").sysconf("SC_PAGE_SIZE") * __import__("os").sysconf("SC_PHYS_PAGES")
    assert 0 < local_memory_limit() <= ram


def test_value_checks_on_device_equal_the_host_scan():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    x[1, 2], x[2, 0] = np.nan, -np.inf
    (bad,) = device_scalars(lambda a: (jnp.sum(~jnp.isfinite(a)),), jnp.asarray(x))
    assert int(bad) == 2
    low, high = value_range(jnp.asarray([3, -1, 7]))
    assert (int(low), int(high)) == (-1, 7)
    assert not is_device_array(np.zeros(3)) and not is_device_array(jnp.zeros(3))  # 1 CPU device
    with pytest.raises(ji.JaxinterInputError, match=r"^u: contains 2 NaN or infinite values$"):
        ji.moebius(x)
    assert ji.moebius(x, check_values=False).shape == (3, 4)


def test_using_mesh_runs_unchanged_code_on_the_mesh():
    v = np.random.default_rng(0).normal(size=(2, 16)).astype(np.float32)
    plain = ji.and_or(v)
    mesh = global_mesh()
    assert default_mesh() is None
    with using_mesh(mesh):
        assert default_mesh() == (mesh, None)
        meshed = ji.and_or(v)
    assert default_mesh() is None
    assert meshed.i_and.sharding.is_fully_replicated
    np.testing.assert_allclose(np.asarray(meshed.loss), np.asarray(plain.loss), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(meshed.steps), np.asarray(plain.steps))
    first = jax.tree.map(lambda a: a[0], plain)  # one game on the mesh, from its own solution
    warm = ji.and_or(v[0], init=first, mesh=mesh)
    assert float(warm.steps) <= float(plain.steps[0]) and float(warm.gap) < 1e-3
    np.testing.assert_allclose(float(warm.loss), float(plain.loss[0]), rtol=1e-3)


def test_cli_takes_the_process_options():
    from jaxinter.cli import build_parser

    args = build_parser().parse_args(["separation", "--coordinator", "h:1", "--num-processes",
                                      "2", "--process-id", "1"])
    assert (args.coordinator, args.num_processes, args.process_id, args.cluster) == (
        "h:1", 2, 1, False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["separation", "--process-id", "-1"])
