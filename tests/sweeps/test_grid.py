"""Sweep files: expansion into configurations, stable identities, errors naming the key."""

from __future__ import annotations

import itertools
import re

import pytest

from jaxinter.errors import JaxinterInputError
from jaxinter.studies import DynamicsConfig, LayerwiseConfig
from jaxinter.sweeps import (
    assign,
    estimate_cost,
    estimate_costs,
    expand_sweep,
    population_groups,
    read_sweep,
)

SPEC = {
    "analyses": ["layerwise", "dynamics"],
    "grid": {"dataset": ["digits", "wine"]},
    "layerwise": {"n": 4, "epochs": 2, "grid": {"seed": [0, 2, 4], "depth": [3, 4]}},
    "dynamics": {"noise": [0.0, 0.2], "seeds": 2},
}


def test_expansion_is_the_cartesian_product_in_file_order():
    sweep = expand_sweep(SPEC)
    layerwise = sweep.of("layerwise")
    expected = list(itertools.product(["digits", "wine"], [0, 2, 4], [3, 4]))
    assert [(c.axes["dataset"], c.axes["seed"], c.axes["depth"]) for c in layerwise] == expected
    for c, (dataset, seed, depth) in zip(layerwise, expected, strict=True):
        assert c.config == LayerwiseConfig(dataset=dataset, seed=seed, depth=depth, n=4,
                                           epochs=2)
    dynamics = sweep.of("dynamics")
    assert [c.config for c in dynamics] == [
        DynamicsConfig(dataset=d, noise=(0.0, 0.2), seeds=2) for d in ("digits", "wine")]
    assert sweep.axes == {"layerwise": {"dataset": ["digits", "wine"], "seed": [0, 2, 4],
                                        "depth": [3, 4]},
                          "dynamics": {"dataset": ["digits", "wine"]}}
    assert len(sweep.configurations) == 14


def test_identity_is_the_config_and_survives_grid_edits(tmp_path):
    ids = {c.config: c.id for c in expand_sweep(SPEC).configurations}
    assert len(set(ids.values())) == len(ids)
    edited = {**SPEC, "layerwise": {"n": 4, "epochs": 2, "grid": {"seed": [4, 0, 6],
                                                                    "depth": [3]}}}
    again = expand_sweep(edited)
    for c in again.configurations:  # an unchanged config keeps its id, a new one gets a new id
        if c.config in ids:
            assert c.id == ids[c.config]
        else:
            assert c.id not in ids.values() and c.config.seed == 6
    path = tmp_path / "sweep.toml"
    path.write_text('analyses = ["dynamics"]\n[grid]\ndataset = ["digits", "wine"]\n'
                    '[dynamics]\nnoise = [0.0, 0.2]\nseeds = 2\n')
    assert [c.id for c in read_sweep(path).configurations] == [
        c.id for c in expand_sweep(SPEC).of("dynamics")]


BAD = [
    ({"analyses": ["layerwise"], "grid": {"seed": [0, 1, "a"]}},
     "grid.seed[2]: expected an integer in [0, 2147483646], got 'a'"),
    ({"analyses": ["layerwise"], "layerwise": {"grid": {"seed": [0, 1.5]}}},
     "layerwise.grid.seed[1]: expected an integer"),
    ({"analyses": ["dynamics"], "dynamics": {"noise": [0.0, 1.5]}},
     "dynamics.noise[1]: expected"),
    ({"analyses": ["layerwise"], "layerwise": {"n": 30}}, "layerwise.n: expected an integer"),
    ({"analyses": ["layerwise"], "layerwise": {"nn": 3}},
     "layerwise.nn: expected a field of LayerwiseConfig"),
    ({"analyses": ["layerwise"], "grid": {"players": [4]}},
     "grid.players: expected a field of the configs of ['layerwise']"),
    ({"analyses": ["layerwise"], "grid": {"seed": 3}},
     "grid.seed: expected a non-empty list of values, got 3"),
    ({"analyses": ["layerwise"], "grid": {"seed": []}}, "grid.seed: expected a non-empty list"),
    ({"analyses": ["layerwise", "nope"]}, "analyses: expected a non-empty list of distinct"),
    ({"analyses": []}, "analyses: expected a non-empty list"),
    ({}, "analyses: expected a non-empty list"),
    ({"analyses": ["layerwise"], "dynamics": {}}, "dynamics: expected only tables of the "
                                                  "analyses ['layerwise']"),
    ({"analyses": ["layerwise"], "grids": {}}, "grids: expected one of the keys"),
    ({"analyses": ["layerwise"], "grid": {"seed": [0]}, "layerwise": {"grid": {"seed": [1]}}},
     "layerwise.grid.seed: expected a field declared once, got it also in [grid]"),
    ({"analyses": ["layerwise"], "layerwise": {"seed": 1, "grid": {"seed": [1]}}},
     "layerwise.grid.seed: expected a field declared once, got it also in [layerwise]"),
    ({"analyses": ["layerwise"], "grid": {"seed": [1, 1]}},
     "grid: expected distinct configurations"),
    ({"analyses": ["layerwise"], "layerwise": {"model": "cnn", "dataset": "wine"}},
     "layerwise.model: expected 'mlp' for the tabular dataset"),
    ({"analyses": ["separation"], "separation": {"grid": {"depths": [[2, 3], [4, 1]]}}},
     "separation.grid.depths[1][1]: expected an integer >= 2, got 1"),
]


@pytest.mark.parametrize(("spec", "message"), BAD)
def test_bad_sweep_files_name_the_key(spec, message):
    with pytest.raises(JaxinterInputError, match="^" + re.escape(message)):
        expand_sweep(spec)


def test_unreadable_files(tmp_path):
    with pytest.raises(JaxinterInputError, match="sweep file: expected a readable file"):
        read_sweep(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("analyses = [\n")
    with pytest.raises(JaxinterInputError, match="sweep file: expected TOML, got bad.toml"):
        read_sweep(bad)


def test_assignment_balances_the_estimated_cost():
    """Population groups whole, longest first to the least loaded process: a brute force over
    every assignment of the groups shows the greedy load is within 4/3 of the best (Graham's
    bound), and every process computes the same assignment."""
    configurations = expand_sweep(SPEC).configurations
    groups = population_groups(configurations)
    assert len(groups) == 6  # (dataset, depth) x seeds 0, 2, 4 in 4 groups; 2 dynamics alone
    seconds = dict(zip([c.id for c in configurations],
                       [k.seconds for k in estimate_costs(configurations)], strict=True))
    costs = [sum(seconds[c.id] for c in g) for g in groups]
    owners = assign(configurations, 2)
    assert owners == assign(list(configurations), 2) and set(owners) == {0, 1}
    owner = dict(zip([c.id for c in configurations], owners, strict=True))
    split = [{owner[c.id] for c in g} for g in groups]
    assert all(len(s) == 1 for s in split)  # a group goes whole to one process
    load = max(sum(c for c, (p,) in zip(costs, split, strict=True) if p == q) for q in (0, 1))
    best = min(max(sum(c for c, p in zip(costs, pick, strict=True) if p == q) for q in (0, 1))
               for pick in itertools.product((0, 1), repeat=len(costs)))
    assert best <= load <= 4 / 3 * best + 1e-9
    assert assign(configurations, 1) == [0] * 14


def test_layerwise_configurations_equal_but_for_their_seeds_are_one_population():
    sweep = expand_sweep({"analyses": ["layerwise"], "layerwise": {
        "n": 4, "samples": 3, "epochs": 3, "grid": {"seed": [0, 1, 4], "model": ["mlp", "cnn"]}}})
    groups = population_groups(sweep.configurations)
    mlp = tuple(c for c in sweep.configurations if c.config.model == "mlp")
    assert groups[0] == mlp and all(len(g) == 1 for g in groups[1:])  # the CNN alone on CPU
    assert all(c.population is None for c in sweep.configurations if c.config.model == "cnn")
    for c, pooled in zip(sweep.configurations, estimate_costs(sweep.configurations),
                         strict=True):
        alone = estimate_cost(c)
        if c.config.model == "mlp":  # seeds 0, 1, 2, 4, 5: five models, 5 / 3 per configuration
            assert (pooled.population, pooled.epochs, alone.epochs) == (5, round(5 / 3 * 3), 6)
            assert pooled.seconds < alone.seconds
        else:
            assert pooled == alone and pooled.population == 0
    # options the training ignores (n, samples) do not split a population; training options do
    other = expand_sweep({"analyses": ["layerwise"], "layerwise": {
        "epochs": 3, "grid": {"n": [3, 4], "width": [8, 16]}}}).configurations
    assert [len(g) for g in population_groups(other)] == [2, 2]


def test_cost_counts_the_work():
    c = expand_sweep({"analyses": ["layerwise"], "layerwise": {
        "n": 5, "samples": 7, "noise_draws": 2, "depth": 4, "epochs": 3}}).configurations[0]
    cost = estimate_cost(c)
    assert (cost.epochs, cost.steps) == (6, 0)
    assert cost.evaluations == 7 * 2**5 * (3 + 1)  # 3 copies of model a, 1 of model b
    assert cost.extracted == 7 * 2**5 * (4 * 3 + 1)
    d = expand_sweep({"analyses": ["dynamics"], "dynamics": {
        "noise": [0.0, 0.5], "seeds": 3, "steps": 100, "every": 20, "players": 4, "probe": 5}})
    cost = estimate_cost(d.configurations[0])
    assert cost.steps == 6 * 100 and cost.evaluations == 6 * 6 * 10 * 16
    assert re.fullmatch(r"dynamics-[0-9a-f]{12}", d.configurations[0].id)
