"""Starting JAX's multi-process runtime, and questions only this process's devices answer."""

from __future__ import annotations

import os

import jax

from ..errors import JaxinterInputError, check_bool, check_int


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, auto: bool = False) -> bool:
    """Start ``jax.distributed`` when several processes are asked for; else do nothing.

    Call it before anything else touches JAX (the device list is fixed at the first use).
    Arguments left None are filled by JAX: the coordinator from ``JAX_COORDINATOR_ADDRESS``,
    and all three from the cluster's environment when JAX detects one (Slurm, Open MPI,
    Kubernetes, Cloud TPU). On CPU the collectives between processes use gloo.

    Args:
      coordinator_address: ``"host:port"`` of process 0's coordinator service.
      num_processes: number of processes (1: nothing to start).
      process_id: this process's index in ``0..num_processes - 1``.
      auto: start even if no argument or ``JAX_COORDINATOR_ADDRESS`` is given (let JAX
        detect the cluster).

    Returns:
      True if the runtime runs with several processes after the call.

    Raises:
      JaxinterInputError: on a bad address, count or index.
    """
    check_int(num_processes, "num_processes", 1, optional=True)
    check_int(process_id, "process_id", 0, optional=True)
    check_bool(auto, "auto")
    port = coordinator_address.rpartition(":")[2] if isinstance(coordinator_address, str) else ""
    if coordinator_address is not None and (
            not isinstance(coordinator_address, str) or not coordinator_address.rpartition(":")[0]
            or not port.isdigit() or not 0 < int(port) < 65536):
        raise JaxinterInputError(
            f"coordinator_address: expected 'host:port', got {coordinator_address!r}")
    if num_processes is not None and process_id is not None and process_id >= num_processes:
        raise JaxinterInputError(
            f"process_id: expected an integer in [0, {num_processes - 1}], got {process_id}")
    if jax.distributed.is_initialized():
        return jax.process_count() > 1
    asked = auto or coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if not asked or num_processes == 1:
        return False
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
    return jax.process_count() > 1


def is_initialized() -> bool:
    """True once ``jax.distributed`` runs (several processes)."""
    return jax.distributed.is_initialized()


def process_index() -> int:
    """This process's index, 0 for a single process."""
    return jax.process_index()


def process_count() -> int:
    """Number of processes, 1 without ``jax.distributed``."""
    return jax.process_count()


def local_memory_limit() -> int:
    """Bytes one device of this process can hold.

    The allocator limit of the local devices (the smallest), or, where devices report none
    (CPU), the host's RAM divided among this process's devices. Only local devices are asked:
    memory statistics exist for addressable devices only.
    """
    devices = jax.local_devices()
    limits = [int(s["bytes_limit"]) for d in devices
              if "bytes_limit" in (s := d.memory_stats() or {})]
    if limits:
        return min(limits)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // len(devices)


def compiled_peak_bytes(compiled) -> int:
    """Peak memory one device needs for a compiled program (``jax.jit(f).lower(...).compile()``).

    Arguments + outputs + temporaries of XLA's buffer assignment, aliased buffers counted
    once; for a program over a mesh, the figure of one device.
    """
    if not callable(getattr(compiled, "memory_analysis", None)):
        raise JaxinterInputError(
            f"compiled: expected a compiled program (jax.jit(f).lower(...).compile()), got "
            f"{type(compiled).__name__}")
    m = compiled.memory_analysis()
    return (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
            - m.alias_size_in_bytes)
