"""Many devices and many processes: layer 1 of jaxinter, a leaf every higher layer may use.

JAX is the distributed engine; this package only fixes jaxinter's conventions on top of it.

- Start the runtime: ``initialize(coordinator_address, num_processes, process_id)`` follows
  ``jax.distributed.initialize`` (the same arguments, the ``JAX_COORDINATOR_ADDRESS`` /
  ``JAX_NUM_PROCESSES`` / ``JAX_PROCESS_ID`` environment variables, automatic detection on
  clusters JAX knows: Slurm, Open MPI, Kubernetes, Cloud TPU) and is a no-op for a single
  process; on CPU it selects the gloo collectives first. ``is_initialized``,
  ``process_index``, ``process_count``.
- One mesh over every device of every process: ``global_mesh(axis="data")``;
  ``split_axis(mesh, axis)`` resolves the axis a ``mesh=`` keyword splits over (a 1-D mesh, or
  a named axis of a larger one) and its size.
- Data between processes and devices: ``to_global(local, mesh, axis)`` turns each process's
  rows into one global array split over ``axis``; ``shard_rows(x, mesh, axis)`` splits an
  array every process holds whole; ``replicate(tree, mesh)`` copies small arrays (weights) to
  every device; ``to_local(array)`` is this process's part of a global array, as numpy;
  ``gather(array)`` the whole array on every process. ``pad_to_multiple(x, multiple, axis)``
  pads an axis with copies of its last entry so that it splits evenly.
- Code written for one device: inside ``with using_mesh(mesh):`` the heavy kernels called
  without ``mesh=`` split their work over ``mesh`` and return replicated results
  (``default_mesh()`` is the mesh in force); the CLI runs every command this way when
  several devices are present.
- Memory per process: ``local_memory_limit()`` is the bytes one local device can hold (its
  allocator limit, or the host RAM shared by the local CPU devices); it never asks a device of
  another process. ``compiled_peak_bytes(compiled)`` is the memory one device needs for a
  compiled program (XLA's buffer assignment).

See docs/distributed.md.
"""

from ._mesh import (
    default_mesh,
    gather,
    global_mesh,
    pad_to_multiple,
    replicate,
    shard_rows,
    split_axis,
    to_global,
    to_local,
    using_mesh,
)
from ._runtime import (
    compiled_peak_bytes,
    initialize,
    is_initialized,
    local_memory_limit,
    process_count,
    process_index,
)

__all__ = [
    "compiled_peak_bytes",
    "default_mesh",
    "gather",
    "global_mesh",
    "initialize",
    "is_initialized",
    "local_memory_limit",
    "pad_to_multiple",
    "process_count",
    "process_index",
    "replicate",
    "shard_rows",
    "split_axis",
    "to_global",
    "to_local",
    "using_mesh",
]
