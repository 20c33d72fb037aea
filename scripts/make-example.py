#!/usr/bin/python3
"""Builds the example competition's content, deterministically: a synthetic penguin-species task.

Writes
  data/train.csv                      features + species, for participants to train on
  data/test_features/features.csv     what the container sees at /code_execution/data (no labels)
  data/ground_truth.csv               id, species, usage (Public/Private): never mounted into the container
  example_submission/model.json       a real tiny model: standardised multinomial logistic regression
  example_submission/main.py          reads the features, applies the model, writes submission.csv

Run with Debian's python3 (python3-sklearn, python3-pandas): /usr/bin/python3 scripts/make-example.py
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parent.parent
SPECIES = ["adelie", "chinstrap", "gentoo"]
FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
# Per-species means and standard deviations, roughly those of the Palmer penguins.
MEANS = {"adelie": [38.8, 18.3, 190.0, 3700.0], "chinstrap": [48.8, 18.4, 196.0, 3733.0], "gentoo": [47.5, 15.0, 217.0, 5076.0]}
STDS = [3.0, 1.2, 6.5, 460.0]


def sample(rng: np.random.Generator, n: int, prefix: str) -> pd.DataFrame:
    species = rng.choice(SPECIES, size=n, p=[0.44, 0.20, 0.36])
    rows = np.array([rng.normal(MEANS[s], STDS) for s in species])
    frame = pd.DataFrame(rows.round(1), columns=FEATURES)
    frame.insert(0, "id", [f"{prefix}{i:04d}" for i in range(n)])
    frame["species"] = species
    return frame


def main() -> None:
    rng = np.random.default_rng(20261121)
    train = sample(rng, 600, "tr")
    test = sample(rng, 200, "pg")
    data = ROOT / "data"
    (data / "test_features").mkdir(parents=True, exist_ok=True)
    train.drop(columns="id").to_csv(data / "train.csv", index=False)
    test.drop(columns="species").to_csv(data / "test_features" / "features.csv", index=False)
    truth = test[["id", "species"]].copy()
    truth["usage"] = np.where(rng.random(len(truth)) < 0.5, "Public", "Private")
    truth.to_csv(data / "ground_truth.csv", index=False)

    scaler = StandardScaler().fit(train[FEATURES])
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(train[FEATURES]), train["species"])
    model_json = {
        "features": FEATURES,
        "classes": list(model.classes_),
        "mean": scaler.mean_.round(6).tolist(),
        "scale": scaler.scale_.round(6).tolist(),
        "coef": model.coef_.round(6).tolist(),
        "intercept": model.intercept_.round(6).tolist(),
    }
    out = ROOT / "example_submission"
    out.mkdir(exist_ok=True)
    (out / "model.json").write_text(json.dumps(model_json, indent=1) + "\n")
    predicted = model.predict(scaler.transform(test[FEATURES]))
    print(f"example model: macro F1 on the test set {f1_score(test['species'], predicted, average='macro'):.4f}")


if __name__ == "__main__":
    main()
