"""The processes of a sweep: JAX's multi-process runtime, or independent processes.

This is the one place that starts the multi-process runtime; a sweep needs only each
process' index and the number of processes (no collective ever runs), because the
configurations are spread over processes and each runs on its process' local devices.
"""

from __future__ import annotations

from ..distributed import initialize, process_count, process_index
from ..errors import JaxinterInputError, check_int


def connect(coordinator: str | None = None, num_processes: int | None = None,
            process_id: int | None = None) -> tuple[int, int]:
    """This process' index and the number of processes of a sweep.

    With a coordinator, ``jax.distributed.initialize`` joins the processes (CPU collectives
    over gloo); without one, ``num_processes`` and ``process_id`` describe independent
    processes that share only the output folder (both None: a single process).

    Args:
      coordinator: ``host:port`` of process 0, or None.
      num_processes: number of processes (None: 1, or JAX's detection with a coordinator).
      process_id: this process, ``0..num_processes - 1``.

    Returns:
      ``(process_index, process_count)``.
    """
    check_int(num_processes, "num_processes", 1, optional=True)
    check_int(process_id, "process_id", 0, optional=True)
    if coordinator is None:
        if (num_processes is None) != (process_id is None):
            raise JaxinterInputError(
                f"process_id: expected it together with num_processes, got process_id "
                f"{process_id!r} and num_processes {num_processes!r}")
        count = check_int(num_processes, "num_processes", 1, optional=True) or 1
        return check_int(process_id or 0, "process_id", 0, count - 1), count
    if not isinstance(coordinator, str) or ":" not in coordinator:
        raise JaxinterInputError(f"coordinator: expected 'host:port', got {coordinator!r}")
    initialize(coordinator, num_processes, process_id)  # checks the counts; gloo on CPU
    return process_index(), process_count()
