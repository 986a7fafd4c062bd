"""Scaling past one device and one process: masked evaluation + AND-OR extraction with 1 and 2
processes, and the per-device memory of the subset-sharded transform.

Throughput. One system is one process with one device; the other is two processes under
``jax.distributed`` (gloo collectives on CPU), one device each, with the same work split over
the global mesh (``mesh=``). Every system is started once (its first call, i.e. tracing and
compilation, is timed alone), then the systems are timed round by round in rotating order,
each round one call of the pipeline in every process of the system: ``masked_scores`` of an
MLP on S samples x 2**n masked inputs, then ``and_or`` of the S games. Reported: the median
wall time per round, games per second and the ratio to one process.

Memory. The Moebius transform of one float32 game of n players (n = 24..28): per-device peak
of the compiled program with the subset axis split over 4 devices (``shard="subsets"``)
against one device's, from XLA's buffer assignment (``compiled_peak_bytes``). On CPU the 4
devices are forced host devices of a subprocess; with 4 or more accelerators the real ones.

    .venv/bin/python benchmarks/bench_distributed.py          # n = 10, 128 samples, 5 rounds
    .venv/bin/python benchmarks/bench_distributed.py --quick  # n = 7, 8 samples, 2 rounds

Writes benchmarks/results/distributed.{json,md}; the same script runs unchanged on a GPU or
TPU host (two processes then use one accelerator each, or share one).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


# ---------------------------------------------------------------------------------------------
# a worker: one process of a system, runs the pipeline each time it reads "run"


def worker(args) -> None:
    from jaxinter.distributed import initialize

    if args.processes > 1:
        initialize(args.address, args.processes, args.process_id)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxinter as ji
    from jaxinter.distributed import global_mesh, shard_rows

    rng = np.random.default_rng(0)
    w1 = jnp.asarray(rng.normal(size=(64, 256)) / 8, jnp.float32)
    w2 = jnp.asarray(rng.normal(size=(256, 10)) / 16, jnp.float32)
    x = rng.normal(size=(args.samples, 64)).astype(np.float32)
    target = rng.integers(0, 10, args.samples)
    players = ji.Players.from_groups(np.array_split(np.arange(64), args.n), (64,))
    # one device per process (the first local one), so 1 and 2 processes differ only in count
    mesh = global_mesh(devices=[d for d in jax.devices()
                                if d == min((e for e in jax.devices()
                                             if e.process_index == d.process_index),
                                            key=lambda e: e.id)])
    xs = shard_rows(x, mesh)

    def apply_fn(batch):
        return jnp.tanh(batch @ w1) @ w2

    def pipeline():
        v = ji.masked_scores(apply_fn, xs, players, np.zeros(64, np.float32), target,
                             chunk_size=512, mesh=mesh)
        result = ji.and_or(v, steps=args.steps, tol=1e-9, mesh=mesh)
        return jax.block_until_ready((v, result.loss))

    for line in sys.stdin:
        if line.strip() != "run":
            break
        wall, cpu = time.perf_counter(), time.process_time()
        pipeline()
        print("RESULT", json.dumps({"wall_s": time.perf_counter() - wall,
                          "cpu_s": time.process_time() - cpu,
                          "platform": jax.devices()[0].platform,
                          "device": str(jax.devices()[0].device_kind)}), flush=True)


# ---------------------------------------------------------------------------------------------
# the driver: systems as process groups, timed round by round


def _result_line(stream) -> str:
    """The next ``RESULT {...}`` line of a worker (other output is passed through)."""
    for line in stream:
        if line.startswith("RESULT "):
            return line[len("RESULT "):]
        print(line, end="", file=sys.stderr)
    raise RuntimeError("a worker ended without a result")


class System:
    """The processes of one system, each running ``worker``; ``call()`` runs one round."""

    def __init__(self, processes: int, args):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            address = f"127.0.0.1:{s.getsockname()[1]}"
        env = dict(os.environ, PYTHONPATH=str(ROOT), XLA_PYTHON_CLIENT_PREALLOCATE="false")
        self.name = f"{processes} process{'es' * (processes > 1)}"
        self.procs = [subprocess.Popen(
            [sys.executable, __file__, "--worker", "--processes", str(processes),
             "--process-id", str(i), "--address", address, "--n", str(args.n),
             "--samples", str(args.samples), "--steps", str(args.steps)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for i in range(processes)]

    def call(self) -> dict:
        wall = time.perf_counter()
        for p in self.procs:
            p.stdin.write("run\n")
            p.stdin.flush()
        rows = [json.loads(_result_line(p.stdout)) for p in self.procs]
        return {"wall_s": time.perf_counter() - wall, "cpu_s": sum(r["cpu_s"] for r in rows),
                "platform": rows[0]["platform"], "device": rows[0]["device"]}

    def close(self) -> None:
        for p in self.procs:  # all first: the processes leave jax.distributed together
            p.stdin.write("quit\n")
            p.stdin.close()
        for p in self.procs:
            p.wait(timeout=120)


def throughput(args, results) -> None:
    import statistics

    load = os.getloadavg()[0]
    systems = [System(1, args), System(2, args)]
    first = {s.name: s.call() for s in systems}
    times = {s.name: [] for s in systems}
    for r in range(args.rounds):
        for s in systems[r % 2:] + systems[:r % 2]:
            times[s.name].append(s.call())
    for s in systems:
        s.close()
    base = statistics.median(t["wall_s"] for t in times[systems[0].name])
    table = results.section(
        f"Masked evaluation and AND-OR extraction, {args.samples} samples, {args.n} players, "
        f"MLP 64-256-10, {args.steps} ADMM steps per game",
        ["system", "devices", "first_s", "median_s", "games_per_s", "cpu_s", "speedup"])
    for s in systems:
        median = statistics.median(t["wall_s"] for t in times[s.name])
        table.add(system=s.name, devices=len(s.procs), first_s=first[s.name]["wall_s"],
                  median_s=median, games_per_s=args.samples / median,
                  cpu_s=statistics.median(t["cpu_s"] for t in times[s.name]),
                  speedup=base / median)
    platform = first[systems[0].name]["platform"]
    table.note(f"Throughput: one device per process ({platform}, "
                 f"{first[systems[0].name]['device']}); {args.rounds} rounds, rotating order; "
                 "first_s is the first call (compilation included); cpu_s sums the processes' "
                 "CPU seconds per round (the same work split, so equal cpu_s means no "
                 "overhead).")
    table.note(f"Machine load (1-minute load average) {load:.1f} before and "
               f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores: on a shared "
               "machine two processes also get a larger share of the scheduler, so compare "
               "cpu_s as well as the wall-time speedup.")


def memory(args, results) -> None:
    code = (
        "import json, sys, jax\n"
        "import jax.numpy as jnp\n"
        "from jax.sharding import NamedSharding, PartitionSpec as P\n"
        "from jaxinter.distributed import compiled_peak_bytes, global_mesh\n"
        "from jaxinter.interactions import moebius\n"
        "mesh = global_mesh(devices=jax.devices()[:4])\n"
        "out = {}\n"
        "for n in map(int, sys.argv[1:]):\n"
        "    one = jax.ShapeDtypeStruct((2**n,), jnp.float32)\n"
        "    split = jax.ShapeDtypeStruct((2**n,), jnp.float32,\n"
        "                                 sharding=NamedSharding(mesh, P('data')))\n"
        "    single = jax.jit(lambda u: moebius(u, check_values=False)).lower(one).compile()\n"
        "    sharded = jax.jit(lambda u: moebius(u, check_values=False, mesh=mesh,\n"
        "                                        shard='subsets')).lower(split).compile()\n"
        "    out[n] = [compiled_peak_bytes(single), compiled_peak_bytes(sharded),\n"
        "              mesh.devices.flat[0].platform]\n"
        "print(json.dumps(out))\n")
    import jax

    env = dict(os.environ, PYTHONPATH=str(ROOT), XLA_PYTHON_CLIENT_PREALLOCATE="false")
    if jax.default_backend() == "cpu" or jax.device_count() < 4:  # 4 forced CPU devices
        env.update(JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=4")
    done = subprocess.run([sys.executable, "-c", code, *map(str, args.memory_n)], env=env,
                          capture_output=True, text=True, check=True)
    table = results.section(
        "Moebius transform of one game, subset axis split over 4 devices (shard=\"subsets\")",
        ["n", "game_MiB", "one_device_MiB", "per_device_MiB", "ratio", "platform"])
    for n, (single, split, platform) in json.loads(done.stdout.splitlines()[-1]).items():
        table.add(n=int(n), game_MiB=4 * 2 ** int(n) / 2**20, one_device_MiB=single / 2**20,
                  per_device_MiB=split / 2**20, ratio=split / single, platform=platform)
    table.note("Memory: per-device peak of the compiled programs (arguments + outputs + "
                 "temporaries, XLA's buffer assignment); one device keeps 3 or 4 whole arrays "
                 "depending on n mod 3, a device of the mesh at most 4 blocks of 2**n / 4.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--address", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-n", type=int, nargs="+", default=[24, 25, 26, 27, 28])
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.quick:
        args.n, args.samples, args.steps, args.rounds, args.memory_n = 7, 8, 100, 2, [20, 22]
    sys.path.insert(0, str(HERE))
    from harness import Results

    results = Results("distributed", "Scaling past one device and one process",
                      columns=["system"])
    throughput(args, results)
    memory(args, results)
    results.write()
    print((HERE / "results" / "distributed.md").read_text())


if __name__ == "__main__":
    main()
