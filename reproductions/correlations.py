"""Fischer et al. (Phys. Rev. Research 2022): networks as maps of correlation functions.
Replacing a layer's class-conditional distribution by a Gaussian with the same mean and
covariance keeps the accuracy of internal layers, while the input layer loses a visible part;
on XOR a quadratic unit moves the class information from the covariance into the mean, and the
Gaussian closure misses the bimodal classes' variances.

Settings: ``mnist`` (width 128, 15 epochs, quadratic and ReLU nets; ``../shared/data/mnist``)
and ``digits`` (the command's defaults, with the XOR task).
Run: ``python reproductions/correlations.py digits`` (``--quick`` for the test suite's version).
"""

from __future__ import annotations

import sys

import numpy as np
from common import comparison, fmt, main, provenance, rounded, table, values

from jaxinter.io import save_json
from jaxinter.studies import CorrelationsConfig, run_correlations

PAPER = "Fischer et al., Phys. Rev. Research 4, 043143 (2022)"
CONFIGS = {
    "mnist": {"dataset": "mnist", "width": 128, "epochs": 15,
              "activations": ("quadratic", "relu"), "xor": False},
    "digits": {},
}
QUICK = {"activations": ("relu",), "width": 32, "epochs": 10, "repeats": 1, "xor_epochs": 60,
         "xor_samples": 20_000}
BIMODAL = 1.5  # closure / exact variance above this: the closure misses a bimodal class


def config(setting: str, quick: bool, data_path) -> CorrelationsConfig:
    if quick:
        return CorrelationsConfig(**QUICK)
    options = dict(CONFIGS[setting])
    if options.get("dataset") == "mnist":
        options["data_path"] = str(data_path)
    return CorrelationsConfig(**options)


def findings(summary: dict) -> dict:
    """Accuracies with each layer's Gaussian surrogate, closure errors, and the XOR task."""
    models = summary["models"]
    surrogate = values(models, "surrogate_accuracy")  # (activation, layer)
    real = values(models, "accuracy")
    out = {
        "activations": models["accuracy"]["coords"]["activation"],
        "layers": models["surrogate_accuracy"]["coords"]["layer"],
        "accuracy": rounded(real, 3),
        "surrogate_accuracy": rounded(surrogate, 3),
        "surrogate_loss_points": rounded(100 * (real[:, None] - surrogate), 1),
        "trained_on_surrogate_accuracy": rounded(
            values(models, "trained_on_surrogate_accuracy"), 3),
        "closure_mean_error": rounded(np.nanmean(values(models, "closure_mean_error"), -1), 3),
        "closure_cov_error": rounded(np.nanmean(values(models, "closure_cov_error"), -1), 3),
    }
    if "xor" in summary:
        xor = summary["xor"]
        ratio = values(xor, "closure_over_exact_var")
        out["xor"] = {
            "separation": rounded(values(xor, "separation"), 4),
            "surrogate_accuracy": rounded(values(xor, "models", "surrogate_accuracy")[0], 3),
            "accuracy": rounded(values(xor, "models", "accuracy")[0], 3),
            "closure_over_exact_var": rounded(ratio, 2),
            "closure_overestimates": rounded([np.min(ratio[ratio > BIMODAL]),
                                              np.max(ratio)] if np.any(ratio > BIMODAL)
                                             else [np.nan, np.max(ratio)], 2),
            "mc_over_exact_var": rounded(values(xor, "mc_over_exact_var"), 3),
        }
    return out


def compare(f: dict) -> list[dict]:
    loss = np.array(f["surrogate_loss_points"], float)  # (activation, layer) in points
    hidden = loss[:, 1:-1]
    rows = [
        comparison("accuracy lost with a Gaussian surrogate of the input (points)",
                   "a visible part", rounded(loss[:, 0], 1), bool(np.all(loss[:, 0] > 0.5))),
        comparison("... of the hidden layers, worst (points)", "about none",
                   rounded(hidden.max(1), 1), bool(np.all(hidden.max(1) < 2.0))),
    ]
    if "xor" in f:
        sep = np.array(f["xor"]["separation"], float)
        lo, hi = f["xor"]["closure_overestimates"]
        rows += [
            comparison("XOR: mean separation |dmu|^2 / tr Sigma, input -> hidden -> logits",
                       "rises (information moves into the mean)", rounded(sep[:, 0], 3),
                       bool(sep[-1, 0] > sep[0, 0] * 100)),
            comparison("XOR: closure / exact variance on bimodal units", "> 1 (misses them)",
                       f"{fmt(lo, 1)}x to {fmt(hi, 1)}x", None if lo is None else lo > 1),
        ]
    return rows


def run(setting: str):
    def run_one(quick: bool, data_path, folder) -> dict:
        cfg = config(setting, quick, data_path)
        study = run_correlations(cfg, folder)
        summary = study.summary()
        save_json(folder / "summary.json", summary)
        f = findings(summary)
        return {"config": cfg.to_dict(), "data": {**study.dataset, "dataset": cfg.dataset},
                "seeds": [cfg.seed], "comparisons": compare(f), "findings": f}
    return run_one


def surrogate_table(record: dict) -> str:
    f = record["findings"]
    layers = f["layers"]
    rows = [[act, fmt(f["accuracy"][i], 3)] + [fmt(x, 3) for x in f["surrogate_accuracy"][i]]
            + [fmt(f["trained_on_surrogate_accuracy"][i], 3)]
            for i, act in enumerate(f["activations"])]
    header = ["activation", "real acc"] + [f"surrogate: {name}" for name in layers] + [
        "trained on Gaussian inputs"]
    return table(header, rows) + "\n\n" + loss_line(record) + "\n\n" + provenance(record)


def xor_table(record: dict) -> str:
    x = record["findings"]["xor"]
    layers = ["input", "hidden", "logits"]
    rows = [["mean separation dmu^2 / tr Sigma"] + [fmt(s[0], 4) for s in x["separation"]],
            ["covariance separation"] + [fmt(s[1], 2) for s in x["separation"]],
            ["surrogate accuracy"] + [fmt(a, 3) for a in x["surrogate_accuracy"]]]
    lo, hi = x["closure_overestimates"]
    return (table(["XOR"] + layers, rows)
            + f"\n\nGaussian closure of the first layer: variance overestimated {fmt(lo, 1)}x to "
              f"{fmt(hi, 1)}x on the units where a class is bimodal (closure / exact > "
              f"{BIMODAL}); real accuracy {fmt(x['accuracy'], 3)}.\n\n" + provenance(record))


def span(values, digits: int = 1) -> str:
    """'a' when all values round alike, else 'a to b' (min to max)."""
    lo, hi = (f"{v:.{digits}f}" for v in (np.min(values), np.max(values)))
    return lo if lo == hi else f"{lo} to {hi}"


def loss_line(record: dict) -> str:
    """Accuracy points each layer's surrogate loses, and training on Gaussian inputs."""
    f = record["findings"]
    loss = np.array(f["surrogate_loss_points"], float)
    per_net = "; ".join(f"{act}: " + ", ".join(f"{name} {x:+.1f}" for name, x in
                                               zip(f["layers"], row, strict=True))
                        for act, row in zip(f["activations"], loss, strict=True))
    trained = 100 * (np.array(f["accuracy"]) - np.array(f["trained_on_surrogate_accuracy"]))
    return (f"Accuracy points lost with each layer's surrogate (real minus surrogate; negative: "
            f"the surrogate does better): {per_net}. A network trained on Gaussian surrogate "
            f"inputs and tested on real images loses {span(trained)} points.")


def readme_line(record: dict) -> str:
    f = record["findings"]
    loss = np.array(f["surrogate_loss_points"], float)
    verdict = ("the picture Fischer et al. report" if all(
        row["agrees"] for row in record["comparisons"][:2]) else
        "where Fischer et al. report a visible loss at the input and about none inside")
    return (f"**Correlations** (MNIST, width 128): the Gaussian surrogate loses "
            f"{span(loss[:, 0])} points of accuracy at the input layer and {span(loss[:, 1:-1])}"
            f" at the hidden layers ({', '.join(f['activations'])} nets), {verdict}.")


def readme_xor_line(record: dict) -> str:
    x = record["findings"]["xor"]
    lo, hi = x["closure_overestimates"]
    worst = max(r[0] for r in record["findings"]["surrogate_loss_points"])
    return (f"**Correlations** (digits and XOR): on 8x8 digits the input surrogate loses at "
            f"most {worst:.1f} points of accuracy; on XOR it loses "
            f"{100 * (x['accuracy'] - x['surrogate_accuracy'][0]):.0f} points while the hidden "
            f"layers keep it, and the Gaussian closure overestimates the bimodal classes' "
            f"variances {fmt(lo, 1)}-{fmt(hi, 1)}x.")


TABLES = {"correlations-mnist-surrogates": ("mnist", surrogate_table),
          "correlations-digits-surrogates": ("digits", surrogate_table),
          "correlations-digits-xor": ("digits", xor_table)}
README = {"correlations": ("mnist", readme_line), "correlations-xor": ("digits", readme_xor_line)}

if __name__ == "__main__":
    sys.exit(main("correlations", {s: run(s) for s in CONFIGS}, __doc__))
