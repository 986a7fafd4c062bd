"""He & Su (PNAS 2023), the law of data separation: ln D_l falls linearly with depth in
BatchNorm-ReLU nets trained to the end; the controls without batch norm or without the
nonlinearity break it.

Settings: ``mnist`` (MNIST 10x10, 100 training images per class, depths 4, 8, 20, 300 epochs,
with the controls; needs ``../shared/data/mnist``) and ``digits`` (the command's defaults).
Run: ``python reproductions/separation.py mnist`` (``--quick`` for the test suite's version).
"""

from __future__ import annotations

import sys

import numpy as np
from common import comparison, fmt, main, provenance, rounded, table, values

from jaxinter.io import save_json
from jaxinter.studies import SeparationConfig, run_separation

PAPER = "He & Su, PNAS 120 e2221704120 (2023)"
REFERENCE = {"bn-relu r": "-0.997 to -1.000 (Fashion-MNIST, CIFAR-10, 4-20 layers)",
             "no-bn r (deep)": "about +0.6", "bn-linear r": "about -0.93"}
QUICK = {"depths": (2, 4), "width": 32, "epochs": 15, "track_every": 5}  # digits
CONFIGS = {
    "mnist": {"dataset": "mnist", "size": (10, 10), "per_class": 100, "depths": (4, 8, 20),
              "epochs": 300, "track_every": 20, "controls": True},
    "digits": {},
}
LABELS = {"bn-relu": "BN-ReLU", "no-bn": "no BN (ReLU)", "bn-linear": "BN, linear"}


def config(setting: str, quick: bool, data_path) -> SeparationConfig:
    """The full or quick configuration of a setting (quick: digits, small, with controls)."""
    if quick:
        return SeparationConfig(**QUICK)
    options = dict(CONFIGS[setting])
    if options.get("dataset") == "mnist":
        options["data_path"] = str(data_path)
    return SeparationConfig(**options)


def findings(summary: dict) -> dict:
    """Per (variant, depth) the law on both splits, accuracies, and the law's emergence."""
    law = {k: values(summary, "law", k) for k in ("rho", "pearson_r", "r2")}
    r_traj = values(summary, "trajectory", "pearson_r")
    out = {"variants": summary["config"]["controls"] and ["bn-relu", "no-bn", "bn-linear"]
           or ["bn-relu"], "depths": summary["config"]["depths"],
           **{k: rounded(v) for k, v in law.items()},
           "r_without_input": rounded(values(summary, "hidden_only", "pearson_r")),
           "r_other_split": rounded(values(summary, "other_split", "pearson_r")),
           "other_split": summary["other_split"]["split"],
           "train_accuracy": rounded(values(summary, "train_accuracy")),
           "test_accuracy": rounded(values(summary, "test_accuracy")),
           "r_at_init": rounded(r_traj[..., 0]),
           "r_first_checkpoint": rounded(r_traj[..., 1]),
           "checkpoints": summary["trajectory"]["pearson_r"]["coords"]["checkpoint"]}
    return out


def compare(f: dict) -> list[dict]:
    """The paper's numbers beside ours."""
    r = np.array(f["pearson_r"], float)
    rows = [comparison("Pearson r of ln D_l vs l, BN-ReLU, depths " + str(f["depths"]),
                       REFERENCE["bn-relu r"], rounded(r[0], 4), bool(np.all(r[0] <= -0.997)))]
    if "no-bn" in f["variants"]:
        rows += [
            comparison(f"r without batch norm, depth {f['depths'][-1]}",
                       REFERENCE["no-bn r (deep)"], rounded(r[1, -1], 4), bool(r[1, -1] > 0)),
            comparison("r without the nonlinearity (BN kept), depths " + str(f["depths"]),
                       REFERENCE["bn-linear r"], rounded(r[2], 4),
                       bool(np.all(r[2] <= -0.9))),
        ]
    return rows


def run(setting: str):
    def run_one(quick: bool, data_path, folder) -> dict:
        cfg = config(setting, quick, data_path)
        study = run_separation(cfg, folder)
        summary = study.summary()
        save_json(folder / "summary.json", summary)
        f = findings(summary)
        return {"config": cfg.to_dict(),
                "data": {"dataset": study.dataset, "split_note": study.split_note,
                         "n_train": study.n_train, "n_test": study.n_test,
                         "measured_on": cfg.split, "n_measured": study.n_measured},
                "seeds": [cfg.seed], "comparisons": compare(f), "findings": f}
    return run_one


def law_table(record: dict) -> str:
    """Rho, r, R^2, r without the input, r on the other split, accuracies per model."""
    f = record["findings"]
    rows = []
    for i, variant in enumerate(f["variants"]):
        for j, depth in enumerate(f["depths"]):
            def at(key, digits, i=i, j=j):
                return fmt(np.array(f[key], float)[i, j], digits)
            rows.append([LABELS[variant], depth, at("rho", 3), at("pearson_r", 4), at("r2", 3),
                         at("r_without_input", 4), at("r_other_split", 3),
                         at("train_accuracy", 4), at("test_accuracy", 3)])
    header = ["model", "hidden layers", "rho", "Pearson r", "R^2", "r without input",
              f"r on {f['other_split']} data", "train acc", "test acc"]
    return table(header, rows) + "\n\n" + provenance(record)


def comparison_table(record: dict) -> str:
    """The paper's reference values beside ours."""
    rows = [[c["finding"], c["paper"], c["ours"], {True: "yes", False: "no", None: "-"}[
        c["agrees"]]] for c in record["comparisons"]]
    return table(["finding", "paper", "ours", "agrees"], rows)


def readme_line(record: dict) -> str:
    """The README's one-line finding."""
    f = record["findings"]
    r = np.array(f["pearson_r"], float)
    bn = ", ".join(f"{x:+.3f}" for x in r[0])
    line = (f"**Separation law** (MNIST 10x10, BatchNorm-ReLU, width 100): r = {bn} at "
            f"{', '.join(map(str, f['depths']))} hidden layers (published -0.997 to -1.000)")
    if len(r) > 1:
        lin = ", ".join(f"{x:+.2f}" for x in r[2])
        line += (f"; without BatchNorm r = {r[1, -1]:+.2f} at depth {f['depths'][-1]} (published "
                 f"about +0.6); without the nonlinearity r = {lin} (published about -0.93)")
    return line + "."


def emergence_line(record: dict) -> str:
    """How the law emerges during training (BN-ReLU nets)."""
    f = record["findings"]
    depths = ", ".join(map(str, f["depths"]))

    def rs(key):
        return ", ".join(f"{x:+.3f}" for x in np.array(f[key], float)[0])

    return (f"**Emergence** (BN-ReLU, {depths} hidden layers): at initialization r = "
            f"{rs('r_at_init')} (ln D does not fall with depth); at the first checkpoint "
            f"(epoch {f['checkpoints'][1]:g}) r = {rs('r_first_checkpoint')}; at the end "
            f"{rs('pearson_r')}.")


TABLES = {"separation-mnist-law": ("mnist", law_table),
          "separation-mnist-emergence": ("mnist", emergence_line),
          "separation-mnist-comparison": ("mnist", comparison_table),
          "separation-digits-law": ("digits", law_table)}
README = {"separation": ("mnist", readme_line)}

if __name__ == "__main__":
    sys.exit(main("separation", {s: run(s) for s in CONFIGS}, __doc__))
