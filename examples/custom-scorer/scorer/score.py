"""RMSLE, the example competition's own scorer (docs/scoring.md says what a scorer gets and must print).

proctor runs it in its own container, with no network: the predictions at /scoring/predictions.csv and
the ground truth at /scoring/ground_truth.csv (both read-only), this folder at /scoring/scorer; the
environment names them and the id and usage columns. The predictions have passed the submission format's
check (every id once, each price a number), so anything that goes wrong here is the scorer's fault, not
the participant's: it must score every file that passed.
It prints one JSON line last: {"public": <RMSLE on the Public rows>, "private": <on the Private rows>}.
Only the Python standard library, so it runs in every runtime image.
"""
import csv
import json
import math
import os
import sys

PREDICTIONS = os.environ.get("PROCTOR_PREDICTIONS", "/scoring/predictions.csv")
GROUND_TRUTH = os.environ.get("PROCTOR_GROUND_TRUTH", "/scoring/ground_truth.csv")
ID = os.environ.get("PROCTOR_ID_COLUMN", "id")
# Empty: competition.yml's scoring.usage_column is null, and every row is public.
USAGE = os.environ.get("PROCTOR_USAGE_COLUMN", "usage")
TARGET = "price"


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {row[ID]: row for row in csv.DictReader(f)}


def rmsle(pairs):
    # A negative prediction passes the format (a float): clip it rather than fail on log1p of it.
    errors = [(math.log1p(max(p, 0.0)) - math.log1p(t)) ** 2 for p, t in pairs]
    return math.sqrt(sum(errors) / len(errors)) if errors else None


def main():
    predictions = read(PREDICTIONS)
    truth = read(GROUND_TRUTH)
    groups = {"public": [], "private": []}
    for id_, row in truth.items():
        usage = row[USAGE].lower() if USAGE else "public"  # Public, Private or Ignored
        if usage in groups:
            groups[usage].append((float(predictions[id_][TARGET]), float(row[TARGET])))
    scores = {"public": rmsle(groups["public"]), "private": rmsle(groups["private"])}
    # Lines before the last are ignored. Never print ground-truth values: a failure's reason carries the
    # end of stderr.
    print(f"scored {sum(len(g) for g in groups.values())} rows", file=sys.stderr)
    print(json.dumps({k: v for k, v in scores.items() if v is not None}))


if __name__ == "__main__":
    main()
