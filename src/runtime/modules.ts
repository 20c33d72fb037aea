/**
 * Which module to import for a package of an environment file. The same data is in
 * runtime/tests/module_map.json, which the import test reads inside the image; modules.test.ts fails when
 * the two differ.
 */

/** Package name (conda or pip, lower case) → the module to import, where it is not the name itself. */
export const MODULE_MAP: Readonly<Record<string, string>> = {
  beautifulsoup4: "bs4",
  faiss: "faiss",
  "faiss-cpu": "faiss",
  "faiss-gpu": "faiss",
  gdal: "osgeo.gdal",
  "imbalanced-learn": "imblearn",
  ipython: "IPython",
  levenshtein: "Levenshtein",
  "matplotlib-base": "matplotlib",
  "msgpack-python": "msgpack",
  "nvidia-ml-py": "pynvml",
  opencv: "cv2",
  "opencv-python": "cv2",
  "opencv-python-headless": "cv2",
  pillow: "PIL",
  protobuf: "google.protobuf",
  "py-opencv": "cv2",
  "py-xgboost": "xgboost",
  "py-xgboost-cpu": "xgboost",
  "py-xgboost-gpu": "xgboost",
  pytables: "tables",
  "python-dateutil": "dateutil",
  "python-duckdb": "duckdb",
  "python-graphviz": "graphviz",
  "python-lmdb": "lmdb",
  "python-xxhash": "xxhash",
  pytorch: "torch",
  "pytorch-cpu": "torch",
  "pytorch-gpu": "torch",
  pyyaml: "yaml",
  pyzmq: "zmq",
  "scikit-image": "skimage",
  "scikit-learn": "sklearn",
  "scikit-learn-intelex": "sklearnex",
  "seaborn-base": "seaborn",
  "tensorflow-cpu": "tensorflow",
  "tensorflow-gpu": "tensorflow",
  "umap-learn": "umap",
};

/** Packages with no module to import (the interpreter, tools, native libraries, variant selectors), and why. */
export const SKIP_IMPORT: Readonly<Record<string, string>> = {
  blas: "a native library, no Python module",
  cmake: "a build tool, no Python module",
  "cuda-nvcc": "the CUDA compiler, no Python module",
  "cuda-toolkit": "the CUDA toolkit, no Python module",
  "cuda-version": "selects the CUDA version, no Python module",
  cudatoolkit: "the CUDA runtime libraries, no Python module",
  cudnn: "a native library, no Python module",
  ffmpeg: "a program, no Python module",
  git: "a program, no Python module",
  libopencv: "a native library, no Python module",
  libtorch: "a native library, no Python module",
  mkl: "a native library, no Python module",
  nccl: "a native library, no Python module",
  nomkl: "selects the BLAS, no Python module",
  openblas: "a native library, no Python module",
  pip: "the installer, not a library",
  python: "the interpreter itself",
  "pytorch-cuda": "selects the CUDA build of PyTorch, no Python module",
  setuptools: "packaging tooling, not a library for submissions",
  wheel: "packaging tooling, not a library for submissions",
};

export type ImportTarget = { module: string; skip?: undefined } | { module: null; skip: string };

/**
 * The module the import test imports for `packageName`, or why it imports none. Lookups ignore case and
 * treat `-`, `_` and `.` alike (PEP 503); names not in the map import as themselves, lower-cased, with `-`
 * turned into `_`: lightgbm → lightgbm, typing-extensions → typing_extensions, ruamel.yaml → ruamel.yaml.
 */
export function importTargetFor(packageName: string): ImportTarget {
  const key = packageName.toLowerCase();
  const normalized = key.replace(/[-_.]+/g, "-");
  for (const candidate of [key, normalized]) {
    const skip = SKIP_IMPORT[candidate];
    if (skip !== undefined) return { module: null, skip };
    const module = MODULE_MAP[candidate];
    if (module !== undefined) return { module };
  }
  return { module: key.replace(/-/g, "_") };
}
