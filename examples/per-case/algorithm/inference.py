"""The per-case example's algorithm: Grand Challenge's contract, one case per run.

Reads /input/inputs.json to learn which inputs this case has, loads them from /input/<relative path>,
loads its weights from the model tarball extracted at /opt/ml/model, and writes one JSON value per output
socket in /output (here /output/rfs.json: a number).
"""
import json
from pathlib import Path

INPUT = Path("/input")
OUTPUT = Path("/output")
MODEL = Path("/opt/ml/model")


def main() -> int:
    sockets = json.loads((INPUT / "inputs.json").read_text())
    by_slug = {socket["interface"]["slug"]: socket for socket in sockets}
    clinical = by_slug["clinical-information"]["value"]
    ct_folder = INPUT / by_slug["ct-image"]["interface"]["relative_path"]
    ct_file = ct_folder / by_slug["ct-image"]["image"]["name"]
    voxels = [float(v) for v in ct_file.read_text().split()]
    weights = json.loads((MODEL / "weights.json").read_text())

    volume = sum(voxels) / len(voxels)
    rfs = weights["intercept"] + weights["age"] * clinical["age"] + weights["volume"] * volume
    print(f"case with {len(voxels)} voxels, age {clinical['age']}: rfs {rfs:.2f}")
    (OUTPUT / "rfs.json").write_text(json.dumps(round(rfs, 2)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
