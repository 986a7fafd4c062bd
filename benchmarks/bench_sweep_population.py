"""Benchmark: the layerwise configurations of a sweep trained alone or as one population.

A layerwise configuration trains two models (seeds s and s + 1). Alone, as ``run_layerwise``
does it, that is two calls of ``training.train`` (test metrics every epoch); in a sweep, the
configurations equal but for their seeds train all their models as one vmapped population
(``training.train_seeds``, what ``sweeps.train_populations`` calls). Both ways are timed in
interleaved rounds (the order alternating), in wall and process CPU seconds (CPU seconds count
all threads and depend far less on other jobs of a shared machine); the first round, with
compilation, is reported apart. The dry run's estimates of the same configurations, alone
(``estimate_cost``) and knowing the population (``estimate_costs``), are printed beside.

Run: .venv/bin/python benchmarks/bench_sweep_population.py [--sweep FILE] [--rounds R]
Writes benchmarks/results/sweep_population.json and sweep_population.md.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from harness import Results, cpu_time_call
from rounds import load_average

from jaxinter.data import load_dataset
from jaxinter.models import MLP
from jaxinter.sweeps import estimate_cost, estimate_costs, population_groups, read_sweep
from jaxinter.training import train, train_seeds

SMALL = Path(__file__).resolve().parents[1] / "docs" / "sweeps" / "small.toml"


def trainers(configs):
    """(alone, population): functions training every model of ``configs`` either way."""
    c = configs[0]
    ds = load_dataset(c.dataset)
    model = MLP(ds.input_shape, ds.num_classes, depth=c.depth, width=c.width)
    seeds = sorted({s for k in configs for s in (k.seed, k.seed + 1)})

    def alone():
        return [train(model, ds, epochs=c.epochs, batch_size=c.batch_size, seed=s,
                      progress=False).variables for k in configs for s in (k.seed, k.seed + 1)]

    def population():
        return train_seeds(model, (ds.x_train, ds.y_train), seeds, epochs=c.epochs,
                           batch_size=c.batch_size, progress=False)

    return alone, population, len(seeds)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=SMALL)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    sweep = read_sweep(args.sweep)
    group = next(g for g in population_groups(sweep.configurations) if g[0].population)
    configs = [c.config for c in group]
    alone, population, models = trainers(configs)
    systems = {"alone": alone, "population": population}
    first, rounds = {}, {name: [] for name in systems}
    loads = [load_average()]
    for r in range(args.rounds + 1):
        for name in (systems if r % 2 else reversed(systems)):
            wall, cpu, _ = cpu_time_call(systems[name])
            if r:
                rounds[name].append((wall, cpu))
            else:
                first[name] = (wall, cpu)
        loads.append(load_average())
    results = Results("sweep_population", f"Training the {len(configs)} layerwise "
                      f"configurations of {args.sweep.name} ({models} models)",
                      ["training", "first_wall_s", "first_cpu_s", "wall_s", "cpu_s",
                       "wall_s_per_configuration", "cpu_s_per_configuration",
                       "estimated_s_per_configuration"])
    estimated = {"alone": statistics.mean(estimate_cost(c).seconds for c in group),
                 "population": statistics.mean(k.seconds for k in estimate_costs(group))}
    for name in systems:
        wall = statistics.median(w for w, _ in rounds[name])
        cpu = statistics.median(c for _, c in rounds[name])
        results.add(training=name, first_wall_s=first[name][0], first_cpu_s=first[name][1],
                    wall_s=wall, cpu_s=cpu, wall_s_per_configuration=wall / len(configs),
                    cpu_s_per_configuration=cpu / len(configs),
                    estimated_s_per_configuration=estimated[name], rounds=rounds[name])
    results.note(f"first: the first call of each (its compilation included, once per "
                 f"process); then medians of {args.rounds} interleaved rounds; estimated: the "
                 f"dry run's seconds of a whole configuration (training is one part). Load "
                 f"average (1, 5, 15 min) before and after each round: "
                 f"{[[round(v, 1) for v in load] for load in loads]}.")
    results.write()
    print(results.markdown())


if __name__ == "__main__":
    main()
