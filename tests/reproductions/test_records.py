"""Reproduction records are complete, derived from their study summaries, and the README and
docs show exactly what ``reproductions/render.py`` renders from them."""

from __future__ import annotations

import dataclasses
import json

import common
import pytest
import render

from jaxinter.io import to_jsonable

RECORDS = sorted(p for p in common.RESULTS.glob("*.json") if not p.name.endswith(".summary.json"))


def plain(obj):
    """What a value becomes once written to JSON and read back."""
    return json.loads(json.dumps(to_jsonable(obj)))


@pytest.mark.parametrize("page", render.PAGES, ids=lambda p: p.name)
def test_pages_show_the_current_records(page):
    text = page.read_text()
    assert render.render(text) == text, "run: python reproductions/render.py"


def test_every_block_is_known_and_every_table_is_shown():
    shown = [name for page in render.PAGES for name in render.names_in(page.read_text())]
    known = set(render.blocks()) | {"readme-findings"}
    assert set(shown) <= known
    assert len(shown) == len(set(shown)), "a block appears twice"
    tables = {name for name in known if not name.startswith("readme-")}
    assert tables <= set(shown), "a paper's table is shown on no page"


def test_there_are_records():
    assert RECORDS, "no reproduction record in reproductions/results"


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_record_is_complete_and_derived_from_its_summary(path):
    record = json.loads(path.read_text())
    paper, setting = record["paper"], record["setting"]
    assert path == common.record_path(paper, setting)
    assert record["mode"] == "full"
    assert record["command"].startswith(f"python reproductions/{paper}.py {setting}")
    assert record["seeds"] and record["data"]["dataset"]
    assert record["environment"]["versions"]["jax"] and record["seconds"]["wall"] > 0
    module = render.PAPERS[paper]
    config = module.config(setting, False, record["config"].get("data_path"))
    current = plain(config.to_dict())
    assert {key: current[key] for key in record["config"]} == record["config"]
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for key in set(current) - set(record["config"]):  # options added since the run
        assert current[key] == plain(defaults[key]), f"{key} differs from the recorded run"
    summary = json.loads(common.summary_path(paper, setting).read_text())
    findings = plain(module.findings(summary))
    assert findings == record["findings"]
    assert plain(module.compare(findings)) == record["comparisons"]
    for row in record["comparisons"]:
        assert row["paper"] is not None and row["ours"] is not None, row
