"""Example submission: a standardised multinomial logistic regression, stored as plain numbers in model.json.

The platform runs this with the test features read-only at /code_execution/data and expects
/code_execution/submission/submission.csv with one row per id: id,species.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path("/code_execution/data")
OUTPUT = Path("/code_execution/submission/submission.csv")
MODEL = Path(__file__).resolve().parent / "model.json"


def main() -> None:
    model = json.loads(MODEL.read_text())
    features = pd.read_csv(DATA / "features.csv")
    x = (features[model["features"]].to_numpy(dtype=float) - np.array(model["mean"])) / np.array(model["scale"])
    logits = x @ np.array(model["coef"]).T + np.array(model["intercept"])
    species = np.array(model["classes"])[logits.argmax(axis=1)]
    pd.DataFrame({"id": features["id"], "species": species}).to_csv(OUTPUT, index=False)
    print(f"wrote {len(features)} predictions to {OUTPUT}")


if __name__ == "__main__":
    main()
