"""Running a sweep: resumption after an interrupt at every stage, reuse after a grid edit."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from tiny_sweep import TINY, summaries

import jaxinter.studies._layerwise as layerwise
import jaxinter.sweeps._schedule as schedule
from jaxinter.io import StageCache
from jaxinter.sweeps import (
    configuration_folder,
    expand_sweep,
    is_done,
    load_sweep,
    population_folder,
    population_groups,
    run_sweep,
)


def _interrupt_after(monkeypatch, count: int) -> list[str]:
    """Make the ``count``-th stage write raise KeyboardInterrupt (what SIGINT raises) right
    after the stage is saved; returns the list of the stages written."""
    written, put = [], StageCache.put

    def interrupted(self, key, arrays, depends=None):
        put(self, key, arrays, depends)
        written.append(f"{self.folder.parent.name}/{key}")
        if len(written) == count:
            raise KeyboardInterrupt

    monkeypatch.setattr(StageCache, "put", interrupted)
    return written


def test_the_tiny_sweep_writes_every_stage_once(tiny_sweep, reference):
    assert all(is_done(reference, c) for c in tiny_sweep.configurations)
    (group, _) = population_groups(tiny_sweep.configurations)  # layerwise; dynamics alone
    assert len(group) == 3
    saved = StageCache(population_folder(reference, group)).get("models")
    assert sorted({k.split("/")[0] for k in saved}) == [f"seed_{s}" for s in range(6)]
    for c in group:  # each configuration's cache holds its two models of the population
        cache = StageCache(configuration_folder(reference, c) / "cache")
        for seed in (c.config.seed, c.config.seed + 1):
            model = cache.get(f"model_seed{seed}")
            assert model.keys() == {k.split("/", 1)[1] for k in saved
                                    if k.startswith(f"seed_{seed}/")}
            for k, v in model.items():
                np.testing.assert_array_equal(v, saved[f"seed_{seed}/{k}"])
    manifest = json.loads((reference / "manifest.json").read_text())
    assert [c["id"] for c in manifest["configurations"]] == [
        c.id for c in tiny_sweep.configurations]
    for c in tiny_sweep.configurations:
        stored = json.loads((configuration_folder(reference, c) / "summary.json").read_text())
        assert stored["config"] == json.loads(json.dumps(c.config.to_dict()))
        assert stored["summary"]["config"] == stored["config"]


# stage writes of the tiny sweep: interrupt after the first, inside the first configuration,
# after its last stage (before its summary), and in a later configuration
@pytest.mark.parametrize("count", [1, pytest.param(4, marks=pytest.mark.slow), 7,
                                   pytest.param(12, marks=pytest.mark.slow)])
def test_resume_after_an_interrupt_equals_an_uninterrupted_run(
        count, tiny_sweep, reference, tmp_path, monkeypatch):
    written = _interrupt_after(monkeypatch, count)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(tiny_sweep, tmp_path)
    assert len(written) == count
    interrupted = {c.id for c in tiny_sweep.configurations if not is_done(tmp_path, c)}
    assert interrupted
    monkeypatch.undo()
    ran, trained = _record_runs(monkeypatch), _record_populations(monkeypatch)
    assert run_sweep(tiny_sweep, tmp_path) == []
    assert set(ran) == interrupted  # the finished configurations are not run again
    assert trained == []  # the population was saved by the first stage write: never retrained
    assert summaries(tmp_path) == summaries(reference)


def _record_populations(monkeypatch) -> list[list[int]]:
    """Record the seeds of every population trained."""
    trained, train_seeds = [], layerwise.train_seeds

    def recorded(model, data, seeds, **kwargs):
        trained.append(list(seeds))
        return train_seeds(model, data, seeds, **kwargs)

    monkeypatch.setattr(layerwise, "train_seeds", recorded)
    return trained


def _record_runs(monkeypatch) -> list[str]:
    ran, run = [], schedule.run_configuration

    def recorded(configuration, out):
        ran.append(configuration.id)
        return run(configuration, out)

    monkeypatch.setattr(schedule, "run_configuration", recorded)
    return ran


def test_an_edited_grid_reuses_the_unchanged_configurations(reference, tmp_path, monkeypatch):
    for path in reference.rglob("*"):  # a copy of the finished sweep
        if path.is_file():
            target = tmp_path / path.relative_to(reference)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    before = summaries(tmp_path)
    edited = expand_sweep(tomllib.loads(TINY.replace("seed = [0, 2, 4]", "seed = [4, 0, 6]")))
    ran, trained = _record_runs(monkeypatch), _record_populations(monkeypatch)
    assert run_sweep(edited, tmp_path) == []
    new = [c.id for c in edited.configurations if c.id not in before]
    assert len(new) == 1 and ran == new
    assert trained == [[6, 7]]  # the added configuration's models, as a population of their own
    after = summaries(tmp_path)
    assert {k: after[k] for k in before} == before
    result = load_sweep(tmp_path)  # the manifest is the edited grid
    assert [c["id"] for c in result.manifest["configurations"]] == [
        c.id for c in edited.configurations]
    assert set(result.summaries) == {c.id for c in edited.configurations}
