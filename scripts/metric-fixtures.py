#!/usr/bin/python3
"""Generate src/scoring/fixtures/metric-cases.json: metric inputs and scikit-learn's values for them.

proctor's built-in metrics (src/scoring/metrics.ts) are tested against these values (1e-9 relative).

Regenerate (Debian's scikit-learn, not a pyenv/conda python):

    apt-get install -y python3-sklearn python3-pandas
    /usr/bin/python3 scripts/metric-fixtures.py

then format it like the rest of the repo (npm run lint checks it):

    npx prettier --write src/scoring/fixtures/metric-cases.json

The cases are deterministic (fixed seeds), so rerunning with the same scikit-learn version rewrites the
same file. The JSON records the scikit-learn and NumPy versions it was made with.

Case layout (all lists are per row):
  kind      "binary" | "multiclass" | "regression"
  labels    class labels in probability-column order (sorted, as scikit-learn orders them)
  y_true    true labels (or values); y_pred: predicted labels (or values)
  proba     binary: probability of labels[1] per row; multiclass: one list per row, one value per label
  usage     optional "Public"/"Private" per row, with expected_public / expected_private
  expected  metric name -> scikit-learn's value on all rows
"""

import json
import os
import sys

import numpy as np
import sklearn
from sklearn import metrics as skm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "scoring", "fixtures", "metric-cases.json")

LABEL_METRICS = {
    "accuracy": lambda t, p: skm.accuracy_score(t, p),
    "balanced_accuracy": lambda t, p: skm.balanced_accuracy_score(t, p),
    "f1_macro": lambda t, p: skm.f1_score(t, p, average="macro", zero_division=0),
    "f1_micro": lambda t, p: skm.f1_score(t, p, average="micro", zero_division=0),
}
VALUE_METRICS = {
    "rmse": lambda t, p: skm.mean_squared_error(t, p, squared=False),
    "mae": lambda t, p: skm.mean_absolute_error(t, p),
    "r2": lambda t, p: skm.r2_score(t, p),
    "mape": lambda t, p: skm.mean_absolute_percentage_error(t, p),
}


def classification_values(kind, labels, y_true, y_pred, proba, with_auc=True):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    out = {name: float(fn(y_true, y_pred)) for name, fn in LABEL_METRICS.items()}
    proba = np.asarray(proba, dtype=np.float64)
    out["log_loss"] = float(skm.log_loss(y_true, proba, labels=labels))
    if with_auc:
        if kind == "binary":
            out["roc_auc"] = float(skm.roc_auc_score((y_true == labels[1]).astype(int), proba))
        else:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=labels))
    return out


def regression_values(y_true, y_pred):
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    return {name: float(fn(t, p)) for name, fn in VALUE_METRICS.items()}


def add_usage(case, rng, compute):
    n = len(case["y_true"])
    usage = np.where(rng.random(n) < 0.4, "Public", "Private")
    case["usage"] = usage.tolist()
    for part, name in (("Public", "expected_public"), ("Private", "expected_private")):
        rows = np.flatnonzero(usage == part)
        case[name] = compute(rows)


def pick(values, rows):
    return [values[i] for i in rows]


def binary_case(name, rng, n, decimals, labels, with_usage=False):
    y_true = rng.choice(labels, size=n, p=[0.6, 0.4]).tolist()
    positive = np.array([t == labels[1] for t in y_true])
    score = np.clip(rng.normal(0.35 + 0.3 * positive, 0.25), 0, 1).round(decimals)
    # Exact 0s and 1s exercise log-loss clipping.
    score[rng.choice(n, size=max(2, n // 20), replace=False)] = 0.0
    score[rng.choice(n, size=max(2, n // 20), replace=False)] = 1.0
    proba = score.tolist()
    y_pred = [labels[1] if p >= 0.5 else labels[0] for p in proba]
    case = {
        "name": name,
        "kind": "binary",
        "labels": labels,
        "y_true": y_true,
        "y_pred": y_pred,
        "proba": proba,
        "expected": classification_values("binary", labels, y_true, y_pred, proba),
    }
    if with_usage:
        add_usage(
            case,
            rng,
            lambda rows: classification_values(
                "binary", labels, pick(y_true, rows), pick(y_pred, rows), pick(proba, rows)
            ),
        )
    return case


def multiclass_case(name, rng, n, labels, absent=None, normalised=True, with_usage=False):
    k = len(labels)
    present = [label for label in labels if label != absent]
    y_true = rng.choice(present, size=n).tolist()
    if normalised:
        # Tenths that sum to exactly one: many ties, exact 0s and 1s.
        counts = np.array([rng.multinomial(10, rng.dirichlet(np.ones(k) * 0.7)) for _ in range(n)])
        proba = (counts / 10.0).round(1)
    else:
        proba = rng.dirichlet(np.ones(k), size=n) * rng.uniform(0.5, 1.5, size=(n, 1))
        proba = np.clip(proba, 0, 1).round(3)
        proba[rng.choice(n, size=n // 10, replace=False), 0] = 0.0
    # Predictions: mostly the argmax, some random (so f1 sees every class, the absent one too).
    y_pred = [labels[int(np.argmax(row))] for row in proba]
    for i in rng.choice(n, size=n // 5, replace=False):
        y_pred[i] = str(rng.choice(labels))
    proba_list = proba.tolist()
    with_auc = normalised and absent is None
    case = {
        "name": name,
        "kind": "multiclass",
        "labels": labels,
        "y_true": y_true,
        "y_pred": y_pred,
        "proba": proba_list,
        "expected": classification_values("multiclass", labels, y_true, y_pred, proba_list, with_auc),
    }
    if with_usage:
        add_usage(
            case,
            rng,
            lambda rows: classification_values(
                "multiclass", labels, pick(y_true, rows), pick(y_pred, rows), pick(proba_list, rows), with_auc
            ),
        )
    return case


def regression_case(name, rng, n, with_usage=False, constant=None):
    if constant is None:
        y_true = rng.normal(50, 20, size=n).round(2)
        y_true[rng.choice(n, size=max(2, n // 25), replace=False)] = 0.0  # mape's eps
    else:
        y_true = np.full(n, constant)
    y_pred = (y_true + rng.normal(0, 5, size=n)).round(3)
    case = {
        "name": name,
        "kind": "regression",
        "y_true": y_true.tolist(),
        "y_pred": y_pred.tolist(),
        "expected": regression_values(y_true, y_pred),
    }
    if with_usage:
        add_usage(case, rng, lambda rows: regression_values(y_true[rows], y_pred[rows]))
    return case


def main():
    rng = np.random.default_rng(20240521)
    cases = [
        binary_case("binary-ties-clipping", rng, 200, 1, [0, 1], with_usage=True),
        binary_case("binary-string-labels", rng, 150, 3, ["no", "yes"]),
        binary_case("binary-many-ties", rng, 2000, 2, [0, 1]),
        multiclass_case("multiclass-3-tenths", rng, 240, ["adelie", "chinstrap", "gentoo"], with_usage=True),
        multiclass_case("multiclass-5-unnormalised", rng, 200, ["a", "b", "c", "d", "e"], normalised=False),
        multiclass_case("multiclass-absent-class", rng, 150, ["a", "b", "c", "d"], absent="c"),
        regression_case("regression", rng, 300, with_usage=True),
        regression_case("regression-constant-target", rng, 20, constant=3.0),
    ]
    # A perfect prediction of a constant target: r2 is 1 by sklearn's convention.
    perfect = {"name": "regression-constant-perfect", "kind": "regression", "y_true": [2.5] * 5, "y_pred": [2.5] * 5}
    perfect["expected"] = regression_values(perfect["y_true"], perfect["y_pred"])
    cases.append(perfect)
    doc = {
        "generator": "scripts/metric-fixtures.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes, {len(cases)} cases)", file=sys.stderr)


if __name__ == "__main__":
    main()
