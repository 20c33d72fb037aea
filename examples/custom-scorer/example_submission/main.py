"""Example submission: a price per square metre, less for older houses (only the standard library).

The test features are read-only at /code_execution/data; the predictions go to
/code_execution/submission/submission.csv with one row per id: id,price.
"""
import csv

with open("/code_execution/data/features.csv", newline="") as f:
    houses = list(csv.DictReader(f))
with open("/code_execution/submission/submission.csv", "w", newline="") as f:
    out = csv.writer(f)
    out.writerow(["id", "price"])
    for house in houses:
        area, rooms, age = float(house["area_m2"]), int(house["rooms"]), int(house["age_years"])
        out.writerow([house["id"], round(1700 * area * (1 - age / 300) + 14000 * rooms)])
print(f"wrote {len(houses)} predictions")
