"""Every option of every command is validated at parse time: a bad value ends with exit status 2
and one line ``jaxinter CMD: error: ...`` on stderr, before any work (no output folder, no
study started). Ctrl-C during a real stage ends with one line and exit status 130, and the
same command resumes to the same results."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import jaxinter.commands
from jaxinter.__main__ import STARTING
from jaxinter.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
INT = ["x", "1.5", "-1", ""]
FLOAT = ["x", "nan", "inf", ""]
CACHE = {"--compile-cache": [__file__]}  # a file, not a folder
COMMON = CACHE | {
    "--seed": ["-1", "x", str(2**40)],
    "--data": ["/nonexistent/data.npz", str(ROOT / "tests")],  # missing; a folder
    "--label-column": [""],
    "--model-factory": ["no_such_module_xyz:make", "nocolon"],
    "--checkpoint": ["/nonexistent/ckpt"],
    "--coordinator": ["nocolon", "host:x", "host:0", ":1234", ""],
    "--num-processes": ["0", "x", "1.5"],
    "--process-id": ["-1", "x"],
}
BAD = {
    "layerwise": COMMON | {
        "--dataset": ["nope"], "--data-path": ["/nonexistent/mnist"], "--train-size": INT,
        "--model": ["nope"], "--depth": INT, "--width": INT, "--epochs": INT,
        "--batch-size": INT, "--probe-steps": INT, "--n": INT + ["21"], "--patch-size": INT,
        "--samples": INT, "--extraction": ["nope"], "--also-extraction": ["nope"],
        "--ratio": FLOAT + ["-1", "2", "0", "1"], "--noise-draws": INT + ["1"],
        "--sigma": FLOAT + ["-1"], "--examples": INT, "--chunk-size": INT,
        "--layers": ["("],
    },
    "dynamics": COMMON | {
        "--dataset": ["nope"], "--data-path": ["/nonexistent/mnist"], "--players": INT + ["13"],
        "--noise": ["x", "1.5", "0,0", ""], "--seeds": INT, "--steps": INT, "--every": INT,
        "--batch-size": INT, "--lr": FLOAT + ["-1", "0"], "--width": INT, "--depth": INT,
        "--probe": INT + ["1"], "--method": ["nope"], "--andor-steps": INT,
        "--train-limit": INT,
    },
    "separation": COMMON | {
        "--dataset": ["nope"], "--data-path": ["/nonexistent/mnist"], "--size": [["0", "5"]],
        "--per-class": INT, "--depths": INT + ["1", ["4", "4"]], "--width": INT,
        "--epochs": INT, "--batch-size": INT, "--lr": FLOAT + ["-1", "0"],
        "--weight-decay": FLOAT + ["-1"], "--track-every": INT, "--split": ["nope"],
        "--layers": ["("],
    },
    "correlations": COMMON | {
        "--dataset": ["nope"], "--data-path": ["/nonexistent/mnist"],
        "--activations": ["nope", "", "relu,relu"], "--depth": INT, "--width": INT,
        "--alpha": FLOAT, "--epochs": INT, "--repeats": INT, "--xor-epochs": INT,
        "--xor-samples": INT + ["1"],
    },
    "selfcheck": CACHE | {"--n": INT + ["25"]},
}
CASES = [(command, option, value) for command, options in BAD.items()
         for option, values in options.items() for value in values]


def _options(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, type(parser._subparsers._actions[-1])))
    return {a.option_strings[0] for a in sub.choices[command]._actions
            if a.option_strings and a.option_strings[0] not in ("-h", "--out")
            and a.nargs != 0}


@pytest.mark.parametrize("command", BAD)
def test_the_table_covers_every_option(command):
    assert _options(command) == set(BAD[command])


def _forbid_work(monkeypatch):
    def work(args):
        raise AssertionError("the command started working")

    for name in BAD:
        module = getattr(jaxinter.commands, name, None) or __import__(
            f"jaxinter.commands.{name}", fromlist=["run"])
        monkeypatch.setattr(module, "run", work)


def _run_main(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exit_info:
        return exit_info.code


def _assert_one_line_error(command, code, err):
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"jaxinter {command}: error: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize("command,option,value", CASES,
                         ids=[f"{c}{o}={v}" for c, o, v in CASES])
def test_bad_option_is_one_line_exit_2_before_any_work(command, option, value, tmp_path,
                                                       monkeypatch, capsys):
    _forbid_work(monkeypatch)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    extra = ["--out", str(out)] if command != "selfcheck" else []
    values = value if isinstance(value, list) else [value]
    code = _run_main([command, *extra, f"{option}={values[0]}", *values[1:]] if values[0]
                     .startswith("-") else [command, *extra, option, *values])
    _assert_one_line_error(command, code, capsys.readouterr().err)
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_process_id_below_the_number_of_processes(tmp_path, monkeypatch, capsys):
    _forbid_work(monkeypatch)
    monkeypatch.chdir(tmp_path)
    code = _run_main(["layerwise", "--out", str(tmp_path / "out"), "--num-processes", "2",
                      "--process-id", "2", "--coordinator", "127.0.0.1:1"])
    err = capsys.readouterr().err
    _assert_one_line_error("layerwise", code, err)
    assert "process_id" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["file", "below_a_file"])
def test_out_must_be_a_writable_folder(where, tmp_path, monkeypatch, capsys):
    _forbid_work(monkeypatch)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = blocker if where == "file" else blocker / "sub"
    for command in ("layerwise", "dynamics", "separation", "correlations"):
        code = _run_main([command, "--out", str(out)])
        _assert_one_line_error(command, code, capsys.readouterr().err)
    assert blocker.read_text() == "x"


def _summary(folder: Path) -> dict:
    """summary.json without its timings (which differ between runs)."""
    summary = json.loads((folder / "summary.json").read_text())
    return {k: v for k, v in summary.items() if "seconds" not in k and k != "timings"}


SEPARATION = [sys.executable, "-m", "jaxinter", "separation", "--depths", "2", "3",
              "--epochs", "1", "--track-every", "1", "--width", "8", "--seed", "3"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _interrupt(out: Path, stage_done: bool) -> str:
    """Run the separation command into ``out``, send SIGINT once its cache folder exists (or,
    with ``stage_done``, once a stage is stored), check exit 130 and the one line; stderr."""
    proc = subprocess.Popen([*SEPARATION, "--out", str(out)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not (out / "cache").is_dir() or (stage_done and not list((out / "cache").glob(
            "*.npz"))):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # inside the study: a stage is running
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        f"jaxinter separation: interrupted; finished stages are kept in {out / 'cache'}; run "
        f"the same command again to resume")
    assert "Traceback" not in err and not (out / "summary.json").exists()
    return err


def test_ctrl_c_during_a_stage_exits_130_with_one_line(tmp_path):
    _interrupt(tmp_path / "out", stage_done=False)  # while the first model trains


@pytest.mark.slow
def test_ctrl_c_then_the_same_command_resumes_to_the_same_results(tmp_path):
    out = tmp_path / "interrupted"
    _interrupt(out, stage_done=True)
    assert list((out / "cache").glob("*.npz"))  # a finished stage is kept
    resumed = subprocess.run([*SEPARATION, "--out", str(out)], env=ENV, capture_output=True,
                             text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    assert "reused from the cache" in resumed.stderr
    fresh = tmp_path / "fresh"
    once = subprocess.run([*SEPARATION, "--out", str(fresh)], env=ENV, capture_output=True,
                          text=True, timeout=900)
    assert once.returncode == 0, once.stderr
    assert _summary(out) == _summary(fresh)


def test_ctrl_c_inside_a_gc_callback_is_sent_again_not_dropped(monkeypatch):
    """Python drops a KeyboardInterrupt raised in a garbage-collector callback (JAX has one),
    so there the handler re-sends the signal instead; anywhere else it raises."""
    import gc

    from jaxinter import interrupt

    sent = []
    monkeypatch.setattr(interrupt.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    seen = []

    def callback(phase, info):
        try:
            interrupt.on_sigint(signal.SIGINT, sys._getframe())
            seen.append("no raise")
        except KeyboardInterrupt:
            seen.append("raised")

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    time.sleep(0.3)  # the timer fires
    assert seen and set(seen) == {"no raise"}
    assert sent and sent[0] == (os.getpid(), signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        interrupt.on_sigint(signal.SIGINT, sys._getframe())


def _wait_for(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.002)


def _mapped(proc: subprocess.Popen, library: str):
    """``ready`` test: the process has loaded a shared library whose path holds ``library``."""
    return lambda: library in Path(f"/proc/{proc.pid}/maps").read_text()


def _reading(proc: subprocess.Popen, path: Path):
    """``ready`` test: the process has ``path`` open."""
    fds = Path(f"/proc/{proc.pid}/fd")

    def ready():
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                if Path(os.readlink(fd)) == path:
                    return True
        return False
    return ready


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("moment", ["importing_jax", "loading_commands", "loading_data"])
def test_ctrl_c_while_starting_is_one_line_and_exit_130(moment, tmp_path):
    """SIGINT while JAX is imported (before the command line is), while the commands load to
    build the option parser, and while a large --data file is read: one line, exit 130."""
    data = tmp_path / "big.csv"
    out = tmp_path / "out"
    if moment == "loading_data":  # ~20 MB: parsing it takes about a second
        table = np.random.default_rng(0).normal(size=(200_000, 8)).round(6)
        np.savetxt(data, np.c_[table, np.arange(200_000) % 2], delimiter=",", fmt="%g",
                   header=",".join([f"x{i}" for i in range(8)] + ["label"]), comments="")
    command = [sys.executable, "-m", "jaxinter", "layerwise", "--out", str(out)]
    command += ["--data", str(data)] if moment == "loading_data" else []
    proc = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    ready = {"importing_jax": _mapped(proc, "jaxlib"),  # JAX's first library: its import began
             "loading_commands": _mapped(proc, "ft2font"),  # matplotlib: the commands load
             "loading_data": _reading(proc, data)}[moment]
    _wait_for(proc, ready)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    expected = {
        "importing_jax": STARTING,
        "loading_commands": STARTING,
        "loading_data": f"jaxinter layerwise: interrupted; finished stages are kept in "
                        f"{out / 'cache'}; run the same command again to resume"}[moment]
    assert err.strip().splitlines() == [expected], err
