"""Scaling past one device and one process: masked evaluation + AND-OR extraction with 1 and 2
processes, and the per-device memory of the subset-sharded transform.

Throughput. A system is one process with one device, or two processes under
``jax.distributed`` (gloo collectives on CPU) with one device each and the same work split over
the global mesh (``mesh=``). Two pairs of systems are timed: as the OS runs them (XLA's
intra-op threads may already use every core from one process, so a second process can only
add the cores the first leaves idle), and pinned, one core per process (``os.sched_setaffinity``,
as ``taskset -c K`` does, and one XLA intra-op thread: ``--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1``), which measures the scaling per core. Every system is
started once (its first call, i.e. tracing and compilation, is timed alone), then the systems
are timed round by round in rotating order, each round one call of the pipeline in every
process of the system: ``masked_scores`` of an MLP on S samples x 2**n masked inputs, then
``and_or`` of the S games. Reported: the median wall time per round, games per second, the
summed CPU seconds of the processes, the 1-minute load average during the system's rounds and
the speedup over the one-process system of the same pair.

Memory. The Moebius transform of one float32 game of n players (n = 24..28): per-device peak of
the compiled program with the subset axis split over D = 2 and 4 devices (``shard="subsets"``)
against one device's, from XLA's buffer assignment (``compiled_peak_bytes``), with the game
kept and donated (``donate=True``). On CPU the devices are forced host devices of a
subprocess; with D or more accelerators the real ones.

    .venv/bin/python benchmarks/bench_distributed.py          # n = 10, 128 samples, 4 rounds
    .venv/bin/python benchmarks/bench_distributed.py --quick --out /tmp/bench  # n = 7, 8
                                                  # samples, 2 rounds, n = 20, 22 for memory

Writes benchmarks/results/distributed.{json,md} (about 6 minutes on an idle 2-core CPU); the
same script runs unchanged on a GPU or TPU host (two processes then use one accelerator each,
or share one).
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
    if args.core is not None:  # before JAX starts its threads
        os.sched_setaffinity(0, {args.core})
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


ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class System:
    """The processes of one system, each running ``worker``; ``call()`` runs one round.

    ``pinned``: process i runs on core i alone with one XLA intra-op thread.
    """

    def __init__(self, processes: int, args, pinned: bool = False):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            address = f"127.0.0.1:{s.getsockname()[1]}"
        env = dict(os.environ, PYTHONPATH=str(ROOT), XLA_PYTHON_CLIENT_PREALLOCATE="false")
        if pinned:
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {ONE_THREAD}".strip()
        self.processes, self.pinned = processes, pinned
        self.name = (f"{processes} process{'es' * (processes > 1)}"
                     + (", 1 core each" if pinned else ", unrestricted"))
        self.procs = [subprocess.Popen(
            [sys.executable, __file__, "--worker", "--processes", str(processes),
             "--process-id", str(i), "--address", address, "--n", str(args.n),
             "--samples", str(args.samples), "--steps", str(args.steps),
             *(["--core", str(i)] if pinned else [])],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for i in range(processes)]

    def call(self) -> dict:
        wall = time.perf_counter()
        for p in self.procs:
            p.stdin.write("run\n")
            p.stdin.flush()
        rows = [json.loads(_result_line(p.stdout)) for p in self.procs]
        return {"wall_s": time.perf_counter() - wall, "cpu_s": sum(r["cpu_s"] for r in rows),
                "cpu_max_s": max(r["cpu_s"] for r in rows), "platform": rows[0]["platform"],
                "device": rows[0]["device"], "load": os.getloadavg()[0]}

    def close(self) -> None:
        for p in self.procs:  # all first: the processes leave jax.distributed together
            p.stdin.write("quit\n")
            p.stdin.close()
        for p in self.procs:
            p.wait(timeout=120)


def throughput(args, results) -> None:
    import statistics

    pinning = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
    systems = [System(1, args), System(2, args)]
    if pinning:
        systems += [System(1, args, pinned=True), System(2, args, pinned=True)]
    first = {s.name: s.call() for s in systems}
    times = {s.name: [] for s in systems}
    for r in range(args.rounds):
        order = systems[r % len(systems):] + systems[:r % len(systems)]
        for s in order:
            times[s.name].append(s.call())
            print(f"[distributed] round {r + 1}/{args.rounds} {s.name}: "
                  f"{times[s.name][-1]['wall_s']:.2f} s", file=sys.stderr, flush=True)
    for s in systems:
        s.close()
    table = results.section(
        f"Masked evaluation and AND-OR extraction, {args.samples} samples, {args.n} players, "
        f"MLP 64-256-10, {args.steps} ADMM steps per game",
        ["system", "processes", "first_s", "median_s", "games_per_s", "cpu_s", "cpu_max_s",
         "load", "speedup", "cpu_speedup"])
    def median(name, key="wall_s"):
        return statistics.median(t[key] for t in times[name])

    for s in systems:
        base = next(b for b in systems if b.pinned == s.pinned and b.processes == 1).name
        table.add(system=s.name, processes=s.processes, first_s=first[s.name]["wall_s"],
                  median_s=median(s.name), games_per_s=args.samples / median(s.name),
                  cpu_s=median(s.name, "cpu_s"), cpu_max_s=median(s.name, "cpu_max_s"),
                  load=statistics.mean(t["load"] for t in times[s.name]),
                  speedup=median(base) / median(s.name),
                  cpu_speedup=median(base, "cpu_s") / median(s.name, "cpu_max_s"))
    platform = first[systems[0].name]["platform"]
    table.note(f"Throughput: one device per process ({platform}, "
               f"{first[systems[0].name]['device']}); {args.rounds} rounds, rotating order; "
               "first_s is the first call (compilation included); cpu_s sums the processes' "
               "CPU seconds per round (the same work split, so equal cpu_s means no "
               "overhead); cpu_max_s is the largest process's share.")
    table.note("speedup: wall time of the one-process system of the same kind over this "
               "system's. cpu_speedup: the one-process system's cpu_s over this system's "
               "cpu_max_s, the speedup when every process has a core to itself (for pinned "
               "one-thread processes the wall time is then their CPU time): it does not depend "
               "on other jobs taking cores, which a busy machine's wall times do.")
    table.note("Unrestricted: the OS and XLA's intra-op threads place the work; one process "
               "may already keep every core busy, then two processes cannot add throughput. "
               "1 core each: process i pinned to core i (sched_setaffinity, as taskset -c i) "
               "with one XLA intra-op thread, the scaling per core"
               + ("." if pinning else " (not run: fewer than 2 cores available)."))
    table.note(f"load: the 1-minute load average after each round, averaged, on "
               f"{os.cpu_count()} cores; other jobs on the machine take their share of the "
               "cores from every system, so compare cpu_s as well as the speedup.")


def memory_worker(args) -> None:
    """Peak bytes of the Moebius transform on one device and split over ``args.devices``,
    game kept and donated, printed as one JSON line."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from jaxinter.distributed import compiled_peak_bytes, global_mesh
    from jaxinter.interactions import moebius

    mesh = global_mesh(devices=jax.devices()[:args.devices])
    rows = []
    for n in args.memory_n:
        one = jax.ShapeDtypeStruct((2**n,), jnp.float32)
        split = jax.ShapeDtypeStruct((2**n,), jnp.float32,
                                     sharding=NamedSharding(mesh, P("data")))
        for donate in (False, True):
            donated = (0,) if donate else ()
            single = jax.jit(lambda u, d=donate: moebius(u, check_values=False, donate=d),
                             donate_argnums=donated).lower(one).compile()
            sharded = jax.jit(lambda u, d=donate: moebius(
                u, check_values=False, mesh=mesh, shard="subsets", donate=d),
                donate_argnums=donated).lower(split).compile()
            rows.append([n, donate, compiled_peak_bytes(single), compiled_peak_bytes(sharded),
                         jax.devices()[0].platform])
    print(json.dumps(rows))


def memory(args, results) -> None:
    table = results.section(
        "Moebius transform of one game, subset axis split over D devices (shard=\"subsets\")",
        ["n", "devices", "donated", "game_MiB", "one_device_MiB", "per_device_MiB", "blocks",
         "ratio", "platform"])
    import jax

    for devices in (2, 4):
        env = dict(os.environ, PYTHONPATH=str(ROOT), XLA_PYTHON_CLIENT_PREALLOCATE="false")
        if jax.default_backend() == "cpu" or jax.device_count() < devices:  # forced CPU devices
            env.update(JAX_PLATFORMS="cpu", XLA_FLAGS=" ".join(
                [env.get("XLA_FLAGS", ""), f"--xla_force_host_platform_device_count={devices}"]))
        done = subprocess.run(
            [sys.executable, __file__, "--memory-worker", "--devices", str(devices),
             "--memory-n", *map(str, args.memory_n)],
            env=env, capture_output=True, text=True, check=True)
        for n, donate, single, split, platform in json.loads(done.stdout.splitlines()[-1]):
            block = 4 * 2**n / devices
            table.add(n=n, devices=devices, donated="yes" if donate else "no",
                      game_MiB=4 * 2**n / 2**20, one_device_MiB=single / 2**20,
                      per_device_MiB=split / 2**20, blocks=split / block,
                      ratio=split / (single / devices), platform=platform)
    table.note("Memory: peak of one device's compiled program (arguments + outputs + "
               "temporaries, XLA's buffer assignment); blocks = per-device peak / the device's "
               "block of 2**n / D values; ratio = per-device peak / (one-device peak / D). "
               "A device holds its game block, its result block and pieces of at most 2**18 "
               "values of the in-place butterfly (a constant); donating the game "
               "(donate=True) lets the result take its place: one block plus the constant. "
               "One device holds the game, the result and one or two temporaries (two arrays "
               "donated).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--address", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--core", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--devices", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--memory-n", type=int, nargs="+", default=[24, 25, 26, 27, 28])
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="folder of distributed.json and distributed.md")
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.memory_worker:
        return memory_worker(args)
    if args.quick:
        args.n, args.samples, args.steps, args.rounds, args.memory_n = 7, 8, 100, 2, [20, 22]
    sys.path.insert(0, str(HERE))
    from harness import Results

    results = Results("distributed", "Scaling past one device and one process",
                      columns=["system"], out_dir=args.out)
    throughput(args, results)
    memory(args, results)
    json_path, md_path = results.write()
    print(md_path.read_text())
    print(f"[distributed] wrote {json_path} and {md_path}; run benchmarks/update_readme.py to "
          "copy the tables into README.md and docs/distributed.md", file=sys.stderr)


if __name__ == "__main__":
    main()
