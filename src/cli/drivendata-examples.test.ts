import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeZip } from "../../test/support/zips.js";
import { offlineImage } from "../runtime/test-support/offline-image.js";
import { engine } from "../sandbox/engine.js";
import { buildImage } from "../sandbox/registry.js";
import { TEST_IMAGE_LABEL } from "../sandbox/test-support/algorithm-image.js";
import { cli } from "./test-support/cli.js";
import { testSubmissionCommand } from "./test-submission-command.js";

/**
 * Fixtures of our own that do what the example submissions of DrivenData's public runtimes do (the same
 * zip layout, the same relative and absolute paths read and written, the same output file names and the
 * same third-party imports), each run unchanged through `proctor test-submission` on the offline flavour:
 * it scores, or it fails for a package the offline flavour lacks and the hint names that package. Where an
 * example fails so, a twin with only its third-party imports swapped for the standard library shows that
 * the layout itself scores. Each competition lives in a subfolder of one repository whose environment
 * files are at its root (as a repository holding several competitions has them).
 */

let repo: string;
let image: string;

beforeAll(async () => {
  image = await offlineImage();
  repo = await mkdtemp(path.join(os.tmpdir(), "proctor-drivendata-"));
  // The production environment lists what the examples import; the offline flavour's list is the real one.
  await writeFile(
    path.join(repo, "environment-cpu.yml"),
    "name: production\nchannels: [conda-forge]\ndependencies:\n  - python=3.11.9\n  - pandas=2.2.2\n  - loguru=0.7.2\n  - tqdm=4.66.4\n  - click=8.1.7\n  - typer=0.9.0\n  - tifffile=2023.7.10\n",
  );
  await mkdir(path.join(repo, "runtime"));
  await writeFile(
    path.join(repo, "runtime", "environment-offline.yml"),
    "name: offline\nchannels: [debian]\ndependencies:\n  - python\n  - numpy\n  - pandas\n",
  );
});
afterAll(() => rm(repo, { recursive: true, force: true }));

interface Competition {
  /** Files of the test data folder (mounted at /code_execution/data). */
  data: Record<string, string | Buffer>;
  /** format.yml's text. */
  format: string;
  groundTruth: string;
  /** Default: mae, lower is better. */
  metric?: { name: string; direction: "higher" | "lower" };
  /** A custom scorer instead: its files (in scorer/, its script_dir) and its command. */
  scorer?: { files: Record<string, string>; command: string[] };
}

/** format.yml's text: the file, its id column, and each column as `name: type` (or a type with options). */
function formatYml(file: string, idColumn: string, columns: string[]): string {
  const listed = columns.map((column) => {
    const [name, type] = column.split(/: (.*)/);
    return `  - { name: ${name}, type: ${type} }\n`;
  });
  return `file: ${file}\nid_column: ${idColumn}\ncolumns:\n${listed.join("")}`;
}

let n = 0;
/** Writes competitions/<name>/competition.yml and its files, the zip of `files`, and runs test-submission. */
async function testSubmission(competition: Competition, files: Record<string, string>, runImage = image) {
  const dir = path.join(repo, "competitions", `c${++n}`);
  for (const [name, content] of Object.entries(competition.data)) {
    await mkdir(path.dirname(path.join(dir, "data", name)), { recursive: true });
    await writeFile(path.join(dir, "data", name), content);
  }
  await writeFile(path.join(dir, "format.yml"), competition.format);
  await writeFile(path.join(dir, "ground_truth.csv"), competition.groundTruth);
  for (const [name, content] of Object.entries(competition.scorer?.files ?? {})) {
    await mkdir(path.join(dir, "scorer"), { recursive: true });
    await writeFile(path.join(dir, "scorer", name), content);
  }
  const colon = image.lastIndexOf(":");
  const metric = competition.scorer
    ? {
        name: `{ custom: { name: IoU, direction: higher, script_dir: scorer, command: ${JSON.stringify(competition.scorer.command)} } }`,
        direction: "higher",
      }
    : (competition.metric ?? { name: "mae", direction: "lower" });
  await writeFile(
    path.join(dir, "competition.yml"),
    [
      `name: example ${n}`,
      `runtime: { image: "${image.slice(0, colon)}", offline_tag: "${image.slice(colon + 1)}" }`,
      "limits: { time: 2m, memory: 1g, cpus: 1 }",
      "paths: { data_dir: data, ground_truth: ground_truth.csv, submission_format: format.yml }",
      `scoring: { metric: ${metric.name}, direction: ${metric.direction}, usage_column: null }`,
      "leaderboard: { store: store.sqlite }",
      "",
    ].join("\n"),
  );
  const zip = await writeZip(path.join(dir, "submission.zip"), files);
  const ran = await cli(testSubmissionCommand(), [
    "--config",
    path.join(dir, "competition.yml"),
    "--submission",
    zip,
    "--image",
    runImage,
    "--output",
    path.join(dir, "last-run"),
    "--participant",
    "tester",
    "--json",
  ]);
  if (ran.error) throw ran.error;
  const json = JSON.parse(ran.stdout) as {
    status: string;
    reason: string;
    problems: string[];
    public_score: number | null;
    hints: string[];
    stderr: string;
  };
  return { ...json, banner: ran.stderr };
}

/** A twin of an example with its third-party imports replaced by the standard library's. */
function withoutImports(text: string, replacements: Record<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(replacements)) {
    expect(out).toContain(from);
    out = out.replace(from, to);
  }
  return out;
}
const STDLIB_LOGGER = "import logging\nlogger = logging.getLogger(__name__)\nlogger.success = logger.info\n";

// youth-mental-health-runtime, example_submission/main.py: pandas reads data/test_features.csv and
// data/submission_format.csv (relative, index in the first column), predicts 1 for every variable and a
// fixed code for the categorical ones, and writes ./submission.csv beside main.py with its index.
const YOUTH: Competition = {
  data: {
    "test_features.csv": "uid,NarrativeLE,NarrativeCME\naaaa,the text,more text\nbbbb,other text,again\n",
    "submission_format.csv": "uid,DepressedMood,InjuryLocationType\naaaa,0,1\nbbbb,0,1\n",
  },
  format: formatYml("submission.csv", "uid", [
    "uid: string",
    "DepressedMood: float",
    "InjuryLocationType: string",
  ]),
  groundTruth: "uid,DepressedMood\naaaa,1\nbbbb,0\n",
};
const YOUTH_MAIN = `"""Answers 1 everywhere, and one fixed location code."""
from pathlib import Path

import pandas as pd

OUT = Path("submission.csv")
FEATURES = Path("data/test_features.csv")
FORMAT = Path("data/submission_format.csv")


def run():
    features = pd.read_csv(FEATURES, index_col=0)
    template = pd.read_csv(FORMAT, index_col=0)
    print("features", features.shape, "format", template.shape)
    answer = pd.DataFrame(index=template.index, columns=template.columns)
    for column in answer.columns:
        answer[column] = 1
    answer["InjuryLocationType"] = 6
    answer.to_csv(OUT, index=True)


if __name__ == "__main__":
    run()
`;

// tutoring-outcomes-runtime, examples/template and examples/minimal: data/test_features.csv and
// data/submission_format.csv (relative); minimal also reads data/test_transcripts/<session_id>.csv, loads
// model/model.txt beside itself (Path(__file__).parent), imports its own src/ package, logs with loguru;
// both write the format as is to ./submission.csv, without the index.
const TUTORING: Competition = {
  data: {
    "test_features.csv": "session_id,grade\ns1,5\ns2,7\n",
    "submission_format.csv": "session_id,outcome\ns1,0.5\ns2,0.5\n",
    "test_transcripts/s1.csv": "turn,speaker,text\n1,tutor,hello\n",
    "test_transcripts/s2.csv": "turn,speaker,text\n1,student,hi\n",
  },
  format: formatYml("submission.csv", "session_id", ["session_id: string", "outcome: float"]),
  groundTruth: "session_id,outcome\ns1,1\ns2,0\n",
};
const TUTORING_TEMPLATE = `from pathlib import Path

import pandas as pd

DATA = Path("data")
OUT = Path("submission.csv")


def run():
    features = pd.read_csv(DATA / "test_features.csv")
    template = pd.read_csv(DATA / "submission_format.csv")
    template.copy().to_csv(OUT, index=False)


if __name__ == "__main__":
    run()
`;
const TUTORING_MINIMAL = {
  "main.py": `from pathlib import Path

from loguru import logger
import pandas as pd

from src.model import ConstantModel

DATA = Path("data")
OUT = Path("submission.csv")
HERE = Path(__file__).parent.resolve()


def run():
    template = pd.read_csv(DATA / "submission_format.csv")
    features = pd.read_csv(DATA / "test_features.csv")
    first = DATA / f"test_transcripts/{features.iloc[0].session_id}.csv"
    logger.info(f"transcript {pd.read_csv(first).shape} from {first}")
    model = ConstantModel.load(HERE / "model" / "model.txt")
    logger.info(f"model says {model.value}")
    template.copy().to_csv(OUT, index=False)
    logger.success(f"wrote {OUT}")


if __name__ == "__main__":
    run()
`,
  "model/model.txt": "a stand-in for weights\n",
  "src/__init__.py": "",
  "src/model.py": `from pathlib import Path


class ConstantModel:
    def __init__(self, value):
        self.value = value

    @classmethod
    def load(cls, path):
        return cls(Path(path).read_text().strip())
`,
};

// visiomel-melanoma-runtime, examples_src/random_baseline/main.py: the absolute /code_execution/data,
// submission_format.csv indexed by the slide's file name, each slide checked to exist there, a seeded
// numpy random probability per slide, written to ./submission.csv beside main.py.
const VISIOMEL: Competition = {
  data: {
    "submission_format.csv": "filename,relapse\nslide_1.tif,0.0\nslide_2.tif,0.0\nslide_3.tif,0.0\n",
    "slide_1.tif": "not really a tif",
    "slide_2.tif": "not really a tif",
    "slide_3.tif": "not really a tif",
  },
  format: formatYml("submission.csv", "filename", ["filename: string", "relapse: probability"]),
  groundTruth: "filename,relapse\nslide_1.tif,1\nslide_2.tif,0\nslide_3.tif,0\n",
};
const VISIOMEL_MAIN = `from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path("/code_execution/data")


def run(seed=7):
    template = pd.read_csv(ROOT / "submission_format.csv", index_col=0)
    rng = np.random.RandomState(seed)
    for name in template.index:
        assert (ROOT / name).exists()
        template.loc[name, "relapse"] = rng.random()
    template.to_csv("submission.csv")


if __name__ == "__main__":
    run()
`;

// childrens-speech-recognition-runtime, examples/{word,phonetic}/minimal: a model file beside main.py
// (Path(__file__).parent / "model"), its own lib/ package, relative data/utterance_metadata.jsonl (each
// audio file read), data/submission_format.jsonl filled in and written to the relative
// submission/submission.jsonl; loguru and tqdm imported.
function speech(column: string): { competition: Competition; files: Record<string, string> } {
  const competition: Competition = {
    data: {
      "utterance_metadata.jsonl":
        '{"utterance_id": "u1", "audio_path": "audio/u1.flac"}\n{"utterance_id": "u2", "audio_path": "audio/u2.flac"}\n',
      "submission_format.jsonl": `{"utterance_id": "u1", "${column}": ""}\n{"utterance_id": "u2", "${column}": ""}\n`,
      "audio/u1.flac": "fLaC",
      "audio/u2.flac": "fLaC",
    },
    format: formatYml("submission.jsonl", "utterance_id", [
      "utterance_id: string",
      `${column}: category, categories: [hello, bye]`,
    ]),
    groundTruth: `utterance_id,${column}\nu1,hello\nu2,bye\n`,
    metric: { name: "accuracy", direction: "higher" },
  };
  const files = {
    "main.py": `import json
import os
from pathlib import Path

from loguru import logger
from tqdm import tqdm

from lib import FixedModel


def run():
    model = FixedModel.load(Path(__file__).parent.resolve() / "model" / "model.txt")
    data = Path("data")
    lines = (data / "utterance_metadata.jsonl").read_text().splitlines()
    guesses = {}
    with tqdm(total=len(lines), file=open(os.devnull, "w")) as bar:
        for line in lines:
            item = json.loads(line)
            guesses[item["utterance_id"]] = model.predict(data / item["audio_path"])
            bar.update(1)
    out = Path("submission") / "submission.jsonl"
    logger.info(f"writing {out}")
    with (data / "submission_format.jsonl").open() as template, out.open("w") as written:
        for line in template:
            item = json.loads(line)
            item["${column}"] = guesses[item["utterance_id"]]
            written.write(json.dumps(item) + "\\n")


if __name__ == "__main__":
    run()
`,
    "lib/__init__.py": `from pathlib import Path


class FixedModel:
    def __init__(self, value):
        self.value = value

    @classmethod
    def load(cls, path):
        return cls(Path(path).read_text().strip())

    def predict(self, audio):
        Path(audio).read_bytes()
        return self.value
`,
    "model/model.txt": "hello\n",
  };
  return { competition, files };
}
const STDLIB_TQDM = `class tqdm:
    def __init__(self, total, file):
        pass
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False
    def update(self, n):
        pass
`;

// spacecraft-pose-object-detection-runtime, example_benchmark/ (example_src/ alike, with the absolute
// DATA_DIR=/code_execution/data): main.sh passes DATA_DIR=../data and the absolute
// /code_execution/submission/submission.csv to `python main.py`; main.py (click, cv2, loguru, tqdm) reads
// <data>/submission_format.csv indexed by image_id, checks <data>/images/<image_id>.png, and writes one
// box per image to the path it was given.
const SPACECRAFT: Competition = {
  data: {
    "submission_format.csv": "image_id,xmin,ymin,xmax,ymax\nimg1,0,0,0,0\nimg2,0,0,0,0\n",
    "images/img1.png": "PNG",
    "images/img2.png": "PNG",
  },
  // One numeric column for the metric; the other corners are kept as text.
  format: formatYml("submission.csv", "image_id", [
    "image_id: string",
    "xmin: float",
    "ymin: string",
    "xmax: string",
    "ymax: string",
  ]),
  groundTruth: "image_id,xmin\nimg1,10\nimg2,12\n",
};
const SPACECRAFT_SH = `#!/usr/bin/env bash

DATA_DIR=../data
SUBMISSION_PATH=/code_execution/submission/submission.csv

# where the data is and where the predictions go
python main.py $DATA_DIR $SUBMISSION_PATH`;
const SPACECRAFT_MAIN = `import os
from pathlib import Path

import click
import cv2
import pandas as pd
from loguru import logger


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, dir_okay=True))
@click.argument("output_path", type=click.Path(exists=False))
def main(data_dir, output_path):
    data_dir = Path(data_dir).resolve()
    output_path = Path(output_path).resolve()
    assert output_path.parent.exists(), f"no folder {output_path.parent}"
    logger.info(f"data in {data_dir}")
    boxes = pd.read_csv(data_dir / "submission_format.csv", index_col="image_id")
    for image_id in boxes.index:
        image = data_dir / "images" / f"{image_id}.png"
        assert image.exists(), f"missing {image}"
        cv2.imread(str(image))
        boxes.loc[image_id] = [10, 10, 20, 20]
    boxes.to_csv(output_path, index=True)


if __name__ == "__main__":
    main()
`;
const SPACECRAFT_STDLIB = {
  "import click\nimport cv2\n": "import sys\n",
  "from loguru import logger\n": STDLIB_LOGGER,
  '@click.command()\n@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, dir_okay=True))\n@click.argument("output_path", type=click.Path(exists=False))\n':
    "",
  "        cv2.imread(str(image))\n": "        image.read_bytes()\n",
  "    main()\n": "    main(*sys.argv[1:])\n",
};

// floodwater-runtime (2021), benchmark/main.py: the absolute /codeexecution/data/test_features, whose
// <chip>_vv.tif and <chip>_vh.tif name the chips; a uint8 mask per chip (loguru, typer, tifffile, tqdm)
// written to /codeexecution/submission/<chip>.tif, one file per chip and no table. The format declares
// the folder (files:), and a custom scorer of our own reads it from /scoring/predictions.
const CHIPS = ["awc00", "ayt01", "qus02"];
const SIDE = 4;

/** A little-endian 8-bit grey TIFF, one strip, the pixels after the IFD (as tifffile writes small images). */
function tiff(pixels: number[]): Buffer {
  const entries: [number, number, number][] = [
    [256, 4, SIDE],
    [257, 4, SIDE],
    [258, 3, 8],
    [259, 3, 1],
    [262, 3, 1],
    [273, 4, 8 + 2 + 12 * 9 + 4],
    [277, 3, 1],
    [278, 4, SIDE],
    [279, 4, pixels.length],
  ];
  const ifd = Buffer.alloc(2 + 12 * entries.length + 4);
  ifd.writeUInt16LE(entries.length, 0);
  entries.forEach(([tag, kind, value], i) => {
    ifd.writeUInt16LE(tag, 2 + 12 * i);
    ifd.writeUInt16LE(kind, 4 + 12 * i);
    ifd.writeUInt32LE(1, 6 + 12 * i);
    ifd.writeUInt32LE(value, 10 + 12 * i);
  });
  return Buffer.concat([Buffer.from("II*\0", "latin1"), Buffer.from([8, 0, 0, 0]), ifd, Buffer.from(pixels)]);
}

// Each chip's vv band is 0 and 3 in turn and its vh band 0, so the benchmark's rule (vv > 0 or vh > 1)
// predicts every other pixel. The truth agrees on the first two chips and floods all of the third:
// intersection 8 + 8 + 8, union 8 + 8 + 16, an IoU of 0.75.
const STRIPES = Array.from({ length: SIDE * SIDE }, (_, i) => (i % 2) * 3);
const FLOOD: Competition = {
  data: Object.fromEntries(
    CHIPS.flatMap((chip) => [
      [`test_features/${chip}_vv.tif`, tiff(STRIPES)],
      [`test_features/${chip}_vh.tif`, tiff(STRIPES.map(() => 0))],
    ]),
  ),
  format: 'id_column: chip_id\nfiles:\n  name: "{id}.tif"\n  max_size: 2k\n',
  groundTruth: `chip_id,mask\n${CHIPS.map((chip) => `${chip},${chip === "qus02" ? "1".repeat(16) : "01".repeat(8)}`).join("\n")}\n`,
  scorer: {
    command: ["python3", "/scoring/scorer/score.py"],
    files: {
      "score.py": `"""IoU of the predicted masks (/scoring/predictions/<chip_id>.tif) against the truth's 0/1 strings."""
import csv
import json
import os
import struct

PREDICTIONS = "/scoring/predictions"


def pixels(path):
    data = open(path, "rb").read()
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    tags = {}
    for i in range(count):
        tag, kind, _, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * i)
        tags[tag] = value if kind == 4 else value & 0xFFFF
    return data[tags[273] : tags[273] + tags[256] * tags[257]]


truth = {row["chip_id"]: row["mask"] for row in csv.DictReader(open("/scoring/ground_truth.csv"))}
assert sorted(os.listdir(PREDICTIONS)) == sorted(f"{chip}.tif" for chip in truth), os.listdir(PREDICTIONS)
inter = union = 0
for chip, mask in truth.items():
    for predicted, actual in zip(pixels(f"{PREDICTIONS}/{chip}.tif"), mask):
        inter += predicted == 1 and actual == "1"
        union += predicted == 1 or actual == "1"
print(json.dumps({"public": inter / union}))
`,
    },
  },
};
const FLOOD_MAIN = `import sys
from pathlib import Path

from loguru import logger
import numpy as np
import typer
from tifffile import imread, imwrite
from tqdm import tqdm

ROOT = Path("/codeexecution")
OUT = ROOT / "submission"
FEATURES = ROOT / "data" / "test_features"


def predict(chip_id):
    """One flood mask: a pixel is water where either band says so (a placeholder rule)."""
    try:
        vv = imread(FEATURES / f"{chip_id}_vv.tif")
        vh = imread(FEATURES / f"{chip_id}_vh.tif")
        return ((vv > 0) | (vh > 1)).astype(np.uint8)
    except Exception:
        logger.warning(f"no bands for {chip_id}: predicting no water")
        return np.zeros((512, 512), dtype=np.uint8)


def chip_ids():
    """The chips of the test set, from the band files' names (<chip>_vv.tif)."""
    return sorted({path.stem.split("_")[0] for path in FEATURES.glob("*.tif")})


def main():
    chips = chip_ids()
    if not chips:
        typer.echo("no test features found")
        raise typer.Exit(code=1)
    logger.info(f"predicting {len(chips)} chips")
    for chip_id in tqdm(chips, miniters=25, file=sys.stdout, leave=True):
        imwrite(OUT / f"{chip_id}.tif", predict(chip_id), dtype=np.uint8)
    logger.success("done")


if __name__ == "__main__":
    typer.run(main)
`;
/** typer, tifffile and tqdm as far as the example uses them, on the standard library and numpy. */
const FLOOD_STDLIB = {
  "from loguru import logger\n": STDLIB_LOGGER,
  "import typer\nfrom tifffile import imread, imwrite\nfrom tqdm import tqdm\n": `import struct


class typer:
    echo = print
    Exit = SystemExit
    run = staticmethod(lambda main: main())


def tqdm(items, **options):
    return items


def imread(path):
    data = Path(path).read_bytes()
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    tags = {}
    for i in range(count):
        tag, kind, _, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * i)
        tags[tag] = value if kind == 4 else value & 0xFFFF
    return np.frombuffer(data, np.uint8, tags[256] * tags[257], tags[273]).reshape(tags[257], tags[256])


def imwrite(path, array, dtype):
    array = np.ascontiguousarray(array, dtype=dtype)
    height, width = array.shape
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 4, height), (279, 4, array.size)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", t, k, 1, v) for t, k, v in tags)
    Path(path).write_bytes(b"II*\\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + array.tobytes())
`,
};

describe("DrivenData's example submissions, mirrored, through proctor test-submission", () => {
  it("youth-mental-health's example_submission: relative data/, ./submission.csv with its index, scores", async () => {
    const result = await testSubmission(YOUTH, { "main.py": YOUTH_MAIN });
    expect(result, result.stderr).toMatchObject({ status: "succeeded", public_score: 0.5 });
    expect(result.stderr).toContain("copied ./submission.csv from the working folder");
    // The production environment at the repository's root, two folders above competition.yml.
    expect(result.banner).toMatch(
      /NOTE: this run uses the offline flavour[^]*missing here: .*loguru=0\.7\.2/,
    );
  });

  it("tutoring-outcomes' template: relative data/, the format written to ./submission.csv, scores", async () => {
    const result = await testSubmission(TUTORING, { "main.py": TUTORING_TEMPLATE });
    expect(result, result.stderr).toMatchObject({ status: "succeeded", public_score: 0.5 });
  });

  it("tutoring-outcomes' minimal: fails naming loguru; without it, its src/ package and model/ layout scores", async () => {
    const unchanged = await testSubmission(TUTORING, TUTORING_MINIMAL);
    expect(unchanged.status).toBe("failed");
    expect(unchanged.stderr).toContain("No module named 'loguru'");
    expect(unchanged.hints.join("\n")).toMatch(
      /loguru is in the production image \(loguru.*\) but not in the offline flavour/,
    );
    // Its layout, with the standard library's logging in loguru's place.
    const stdlib = await testSubmission(TUTORING, {
      ...TUTORING_MINIMAL,
      "main.py": withoutImports(TUTORING_MINIMAL["main.py"], {
        "from loguru import logger\n": STDLIB_LOGGER,
      }),
    });
    expect(stdlib, stdlib.stderr).toMatchObject({ status: "succeeded", public_score: 0.5 });
  });

  it("visiomel's random baseline: /code_execution/data, numpy probabilities to ./submission.csv, scores", async () => {
    const result = await testSubmission(VISIOMEL, { "main.py": VISIOMEL_MAIN });
    expect(result.status, result.stderr).toBe("succeeded");
    expect(result.public_score).toEqual(expect.any(Number));
  });

  for (const column of ["orthographic_text", "phonetic_text"]) {
    const track = column === "orthographic_text" ? "word" : "phonetic";
    it(`childrens-speech's ${track} minimal: fails naming loguru; without it, its lib/, model/ and submission/submission.jsonl score`, async () => {
      const { competition, files } = speech(column);
      const unchanged = await testSubmission(competition, files);
      expect(unchanged.status).toBe("failed");
      expect(unchanged.hints.join("\n")).toMatch(/^loguru is in the production image/m);
      const stdlib = await testSubmission(competition, {
        ...files,
        "main.py": withoutImports(files["main.py"]!, {
          "from loguru import logger\nfrom tqdm import tqdm\n": STDLIB_LOGGER + STDLIB_TQDM,
        }),
      });
      // The model answers "hello" to both: one of two right.
      expect(stdlib, stdlib.stderr).toMatchObject({ status: "succeeded", public_score: 0.5 });
    });
  }

  it("spacecraft-pose's benchmark main.sh: python main.py ../data /code_execution/submission/submission.csv; fails naming click; without click scores", async () => {
    const unchanged = await testSubmission(SPACECRAFT, {
      "main.sh": SPACECRAFT_SH,
      "main.py": SPACECRAFT_MAIN,
    });
    expect(unchanged.status).toBe("failed");
    expect(unchanged.stderr).toContain("No module named 'click'");
    expect(unchanged.hints.join("\n")).toMatch(/^click is in the production image/m);
    const stdlib = await testSubmission(SPACECRAFT, {
      "main.sh": SPACECRAFT_SH,
      "main.py": withoutImports(SPACECRAFT_MAIN, SPACECRAFT_STDLIB),
    });
    expect(stdlib, stdlib.stderr).toMatchObject({ status: "succeeded", public_score: 1 });
    // example_src/main.sh gives the absolute /code_execution/data instead.
    const absolute = await testSubmission(SPACECRAFT, {
      "main.sh": withoutImports(SPACECRAFT_SH, { "DATA_DIR=../data": "DATA_DIR=/code_execution/data" }),
      "main.py": withoutImports(SPACECRAFT_MAIN, SPACECRAFT_STDLIB),
    });
    expect(absolute, absolute.stderr).toMatchObject({ status: "succeeded", public_score: 1 });
  });
  it("floodwater's benchmark: fails naming loguru; without it, one /codeexecution/submission/<chip>.tif per chip scores by a custom scorer", async () => {
    const unchanged = await testSubmission(FLOOD, { "main.py": FLOOD_MAIN });
    expect(unchanged.status).toBe("failed");
    expect(unchanged.hints.join("\n")).toMatch(/^loguru is in the production image/m);
    const stdlib = withoutImports(FLOOD_MAIN, FLOOD_STDLIB);
    const result = await testSubmission(FLOOD, { "main.py": stdlib });
    expect(result, result.stderr).toMatchObject({ status: "succeeded", public_score: 0.75, hints: [] });
    expect(result.stderr).toContain("finished after");
    expect(result.stderr).not.toContain("copied");
  });

  // floodwater-runtime's benchmark-pytorch loads its weights from /codeexecution/assets/, where DrivenData's
  // runtime unzipped the submission: /codeexecution is the working folder here, the zip's files in it.
  it("floodwater's pytorch benchmark's layout: a model file loaded from /codeexecution/assets/ is the zip's own, and scores", async () => {
    const stdlib = withoutImports(FLOOD_MAIN, FLOOD_STDLIB);
    const model = { "assets/flood_model.txt": "water: vv > 0 or vh > 1\n" };
    const loading = withoutImports(stdlib, {
      "    chips = chip_ids()\n": `    logger.info((ROOT / "assets" / "flood_model.txt").read_text())\n    chips = chip_ids()\n`,
    });
    const absolute = await testSubmission(FLOOD, { "main.py": loading, ...model });
    expect(absolute, absolute.stderr).toMatchObject({ status: "succeeded", public_score: 0.75, hints: [] });
    // (It scored, so the read succeeded: a missing file raises FileNotFoundError.)
    // Where DrivenData's newer runtimes unzipped it, /code_execution/assets/, is not the zip's: the hint says so.
    const newer = await testSubmission(FLOOD, {
      "main.py": withoutImports(loading, { 'ROOT / "assets"': 'Path("/code_execution/assets")' }),
      ...model,
    });
    expect(newer.status, newer.stderr).toBe("failed");
    expect(newer.hints).toEqual([
      expect.stringMatching(
        /^\/code_execution\/assets\/flood_model\.txt is not there: .*\(Path\(__file__\)\.parent \/ "assets\/flood_model\.txt"\)/,
      ),
    ]);
  });

  it("floodwater's layout with the files misnamed is output_invalid, each file named; with none written, output_missing", async () => {
    const stdlib = withoutImports(FLOOD_MAIN, FLOOD_STDLIB);
    const misnamed = await testSubmission(FLOOD, {
      "main.py": withoutImports(stdlib, { 'OUT / f"{chip_id}.tif"': 'OUT / f"{chip_id}.tiff"' }),
    });
    expect(misnamed.status, misnamed.stderr).toBe("output_invalid");
    expect(misnamed.reason).toMatch(/^the output folder does not follow the submission format: 6 problems\n/);
    expect(misnamed.reason).toContain("3 missing ids");
    expect(misnamed.problems).toContainEqual(
      expect.stringMatching(/^awc00\.tiff: the name is not \{id\}\.tif \[unexpected_file\]/),
    );
    expect(misnamed.problems).toContainEqual(
      expect.stringMatching(/^awc00\.tif: id awc00 has no file \[missing_id\]/),
    );
    // Written beside main.py instead: nothing is copied for a folder format, and the log says where they are.
    const beside = await testSubmission(FLOOD, {
      "main.py": withoutImports(stdlib, { 'OUT / f"{chip_id}.tif"': 'Path(f"{chip_id}.tif")' }),
    });
    expect(beside.status, beside.stderr).toBe("output_missing");
    expect(beside.reason).toBe(
      "the program exited 0 but wrote no file (one {id}.tif per id) in /code_execution/submission",
    );
    expect(beside.stderr).toContain(
      "wrote no file in /code_execution/submission: write one {id}.tif per id there",
    );
    expect(beside.stderr).toMatch(/found instead: \/tmp\/work\/awc00\.tif/);
  });
});

/**
 * The same examples, unchanged, on an image that has what they import: the offline flavour with Debian's
 * loguru, tqdm, click, typer and tifffile (from the Debian mirror, as the base image's packages come).
 * OpenCV is left out here (its 200 packages take minutes to install): spacecraft-pose then fails naming
 * cv2, the one module this image lacks. PROCTOR_TEST_PACKAGES_IMAGE names an image that has cv2 as well.
 */
describe("DrivenData's example submissions, unchanged, on an image with the packages they import", () => {
  let packages: string;
  let built: string | null = null;

  beforeAll(async () => {
    packages = process.env.PROCTOR_TEST_PACKAGES_IMAGE ?? "";
    if (packages) return;
    const context = await mkdtemp(path.join(os.tmpdir(), "proctor-packages-"));
    built = `proctor-test-packages/${path.basename(context).toLowerCase()}:latest`;
    try {
      await writeFile(
        path.join(context, "Dockerfile"),
        [
          `FROM ${image}`,
          "USER root",
          "RUN apt-get update && apt-get install -y --no-install-recommends python3-loguru python3-tqdm python3-click python3-typer python3-tifffile && rm -rf /var/lib/apt/lists/*",
          "USER appuser",
          "",
        ].join("\n"),
      );
      await buildImage({
        context,
        files: ["Dockerfile"],
        dockerfile: "Dockerfile",
        tag: built,
        labels: { [TEST_IMAGE_LABEL]: "packages" },
      });
      packages = built;
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  }, 900_000);
  afterAll(async () => {
    if (built)
      await engine()
        .getImage(built)
        .remove()
        .catch(() => undefined);
  });

  it("tutoring-outcomes' minimal (loguru) scores", async () => {
    const result = await testSubmission(TUTORING, TUTORING_MINIMAL, packages);
    expect(result, result.stderr).toMatchObject({ status: "succeeded", public_score: 0.5 });
  });

  it("childrens-speech's word and phonetic minimal (loguru, tqdm) score", async () => {
    for (const column of ["orthographic_text", "phonetic_text"]) {
      const { competition, files } = speech(column);
      const result = await testSubmission(competition, files, packages);
      expect(result, result.stderr).toMatchObject({ status: "succeeded", public_score: 0.5 });
    }
  });

  it("floodwater's benchmark (loguru, typer, tifffile, tqdm) scores", async () => {
    const result = await testSubmission(FLOOD, { "main.py": FLOOD_MAIN }, packages);
    expect(result, result.stderr).toMatchObject({ status: "succeeded", public_score: 0.75 });
  });

  it("spacecraft-pose's benchmark (click, cv2, loguru, tqdm) scores where the image has cv2, else fails naming it", async () => {
    const result = await testSubmission(
      SPACECRAFT,
      { "main.sh": SPACECRAFT_SH, "main.py": SPACECRAFT_MAIN },
      packages,
    );
    const hasCv2 = await promisify(execFile)("docker", [
      "run",
      "--rm",
      "--network",
      "none",
      "--entrypoint",
      "python3",
      packages,
      "-c",
      "import cv2",
    ]).then(
      () => true,
      () => false,
    );
    if (hasCv2) expect(result, result.stderr).toMatchObject({ status: "succeeded", public_score: 1 });
    else {
      expect(result.status).toBe("failed");
      expect(result.stderr).toContain("No module named 'cv2'");
    }
  });
});
