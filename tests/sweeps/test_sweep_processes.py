"""Sweeps in separate processes: killed by SIGINT or SIGKILL and rerun, two processes (with
jax.distributed over gloo, or independent) against one, one of two processes dying."""

from __future__ import annotations

import signal
import socket
import time

import pytest
from tiny_sweep import TINY, start, summaries, sweep_command, write_sweep

from jaxinter.errors import JaxinterInputError
from jaxinter.sweeps import connect

LAYERWISE_ONLY = TINY.split("[dynamics]")[0].replace('["layerwise", "dynamics"]',
                                                     '["layerwise"]')


def _wait_for(condition, process, timeout=600.0):
    """Poll until ``condition()`` holds; fails when the process ends first."""
    end = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the process ended before the condition held"
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _stages(out):
    return len(list(out.glob("configs/*/cache/*.npz")))


def _done(out):
    return len(list(out.glob("configs/*/summary.json")))


def _finish(command, log, timeout=600):
    process = start(command, log)
    assert process.wait(timeout) == 0, log.read_text()[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
@pytest.mark.parametrize("when", ["first stage", "third stage", "first configuration"])
def test_killed_and_rerun_equals_an_uninterrupted_run(sig, when, reference, tmp_path):
    path, out = write_sweep(tmp_path, LAYERWISE_ONLY), tmp_path / "out"
    process = start(sweep_command(path, out), tmp_path / "killed.log")
    condition = {"first stage": lambda: _stages(out) >= 1,
                 "third stage": lambda: _stages(out) >= 3,
                 "first configuration": lambda: _done(out) >= 1}[when]
    _wait_for(condition, process)
    process.send_signal(sig)
    assert process.wait(120) != 0
    assert _done(out) < 3
    _finish(sweep_command(path, out), tmp_path / "rerun.log")
    found, expected = summaries(out), summaries(reference)
    assert len(found) == 3 and found == {k: expected[k] for k in found}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_give_the_results_of_one(reference, tmp_path):
    """jax.distributed over gloo on localhost; every configuration once, equal results."""
    path, out = write_sweep(tmp_path), tmp_path / "out"
    flags = ["--coordinator", f"localhost:{_free_port()}", "--num-processes", "2"]
    processes = [start(sweep_command(path, out, *flags, "--process-id", str(i)),
                       tmp_path / f"process{i}.log") for i in (0, 1)]
    for i, p in enumerate(processes):
        assert p.wait(900) == 0, (tmp_path / f"process{i}.log").read_text()[-3000:]
    assert summaries(out) == summaries(reference)
    logs = [(tmp_path / f"process{i}.log").read_text() for i in (0, 1)]
    assert all("this process runs" in text and "runs 0 of" not in text for text in logs)
    assert (out / "report.html").exists()


@pytest.mark.slow
def test_one_of_two_processes_dying(reference, tmp_path):
    """Process 1 is killed in its first configuration: process 0 finishes its share, sees
    process 1's heartbeat stop and exits with 1; the rerun completes the sweep."""
    path, out = write_sweep(tmp_path), tmp_path / "out"
    flags = ["--num-processes", "2"]
    processes = [start(sweep_command(path, out, *flags, "--process-id", str(i)),
                       tmp_path / f"process{i}.log") for i in (0, 1)]
    _wait_for(lambda: "[sweep] layerwise" in (tmp_path / "process1.log").read_text()
              or "[sweep] dynamics" in (tmp_path / "process1.log").read_text(), processes[1])
    processes[1].send_signal(signal.SIGKILL)
    assert processes[0].wait(900) == 1
    assert "stopped before finishing" in (tmp_path / "process0.log").read_text()
    assert 0 < _done(out) < 4
    _finish(sweep_command(path, out), tmp_path / "rerun.log")
    assert summaries(out) == summaries(reference)


def test_connect_without_a_coordinator():
    assert connect() == (0, 1)
    assert connect(None, 3, 2) == (2, 3)
    with pytest.raises(JaxinterInputError, match="process_id: expected an integer"):
        connect(None, 2, 2)
    with pytest.raises(JaxinterInputError, match="process_id: expected it together"):
        connect(None, 2, None)
    with pytest.raises(JaxinterInputError, match="coordinator: expected 'host:port'"):
        connect("localhost", 2, 0)
