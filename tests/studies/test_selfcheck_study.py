"""The self-check as a library call: what it checks, that it can fail, what the command prints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxinter.cli import main
from jaxinter.commands.selfcheck import render_selfcheck
from jaxinter.errors import JaxinterInputError
from jaxinter.studies import SelfCheckConfig, SelfCheckStudy, run_selfcheck


def test_selfcheck_passes_and_the_command_prints_the_study(capsys):
    study = run_selfcheck(SelfCheckConfig(n=6))
    assert isinstance(study, SelfCheckStudy) and study.passed
    assert len(study.checks) == 4 and all(c.ok for c in study.checks)
    assert "n = 6" in study.checks[1].message
    summary = json.loads(json.dumps(study.summary()))
    assert summary["passed"] and summary["config"] == {"n": 6}
    assert main(["selfcheck", "--n", "6"]) == 0
    assert capsys.readouterr().out.strip() == render_selfcheck(study)


def test_a_broken_transform_fails_the_check(monkeypatch, capsys):
    import jaxinter.studies._selfcheck as selfcheck

    monkeypatch.setattr(selfcheck, "moebius", lambda u: np.zeros_like(u))
    study = run_selfcheck(SelfCheckConfig(n=4))
    assert not study.passed and not study.checks[0].ok
    assert main(["selfcheck", "--n", "4"]) == 1
    out = capsys.readouterr().out
    assert "FAIL AND interactions" in out and "self-check FAILED (1 checks)" in out


@pytest.mark.parametrize("n", [0, 25, 2.0, True])
def test_config_rejects_bad_n(n):
    with pytest.raises(JaxinterInputError, match=r"^n: expected an int in 1\.\.24"):
        SelfCheckConfig(n=n)
