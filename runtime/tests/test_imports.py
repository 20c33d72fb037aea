#!/usr/bin/env python3
"""Imports every package an environment file lists, inside the runtime image.

Usage:
    python3 test_imports.py [ENV_FILE] [--json-out PATH]

ENV_FILE defaults to $PROCTOR_ENV_FILE, else /code_execution/environment.yml. Each package is imported in a
fresh interpreter (a crash or a hang in one import cannot hide the others), using module_map.json beside
this script to map package names to modules (scikit-learn -> sklearn, pillow -> PIL, ...). Packages with no
module (python, pip, cuda-version, ...) are skipped.

Prints one line per package and a summary, then one machine-readable line starting with
"PROCTOR_IMPORT_RESULTS " followed by JSON; --json-out writes the same JSON to a file. Exits 0 when every
import worked, 1 when any failed, 2 when the environment file cannot be read.

Standard library only: PyYAML is used when it is importable, else the file is read by a small parser for
the environment-file structure (name, channels, dependencies, pip).
"""

import json
import os
import re
import subprocess
import sys
import time

RESULT_PREFIX = "PROCTOR_IMPORT_RESULTS "
DEFAULT_ENV_FILE = "/code_execution/environment.yml"
MODULE_MAP_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_map.json")
IMPORT_TIMEOUT_S = float(os.environ.get("PROCTOR_IMPORT_TIMEOUT", "300"))

# A conda or pip requirement begins with the package name.
NAME_RE = re.compile(r"^\s*(?:[A-Za-z0-9_.\-]+::)?([A-Za-z0-9][A-Za-z0-9_.\-]*)")

# Runs in the fresh interpreter: import one module, print its version as JSON.
IMPORT_CODE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
version = getattr(module, "__version__", None)
print(json.dumps({"version": version if isinstance(version, str) else None}))
"""


class EnvFileError(Exception):
    pass


def strip_comment(line):
    """Drops a YAML comment: a '#' at the start or after whitespace, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_env_text(text):
    """The environment-file structure, without PyYAML: top-level keys, '- item' lists, '- pip:' lists."""
    data = {}
    key = None
    pip_indent = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = strip_comment(raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        content = line.strip()
        if indent == 0 and not content.startswith("-"):
            name, sep, rest = content.partition(":")
            if not sep:
                raise EnvFileError("line %d: expected 'key:' at the top level, got %r" % (number, content))
            key, pip_indent = name.strip(), None
            data[key] = unquote(rest) if rest.strip() else []
            continue
        if key is None or not content.startswith("-"):
            raise EnvFileError("line %d: expected a '- item' under a top-level key, got %r" % (number, content))
        item = content[1:].strip()
        items = data[key]
        if not isinstance(items, list):
            raise EnvFileError("line %d: %r is not a list" % (number, key))
        if pip_indent is not None and indent > pip_indent:
            items[-1]["pip"].append(unquote(item))
            continue
        pip_indent = None
        if re.match(r"^pip\s*:\s*$", item):
            items.append({"pip": []})
            pip_indent = indent
        else:
            items.append(unquote(item))
    return data


def load_env_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        raise EnvFileError("cannot read it: %s" % error.strerror)
    try:
        import yaml
    except ImportError:
        data = parse_env_text(text)
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise EnvFileError("not valid YAML: %s" % error)
    if not isinstance(data, dict):
        raise EnvFileError("the top level must be a mapping with a 'dependencies' list")
    dependencies = data.get("dependencies")
    if not isinstance(dependencies, list):
        raise EnvFileError("'dependencies' must be a list of packages")
    packages = []  # (name, source)
    for entry in dependencies:
        if isinstance(entry, dict) and isinstance(entry.get("pip"), list):
            packages.extend((spec, "pip") for spec in entry["pip"])
        elif isinstance(entry, str):
            packages.append((entry, "conda"))
        else:
            raise EnvFileError("dependency %r is neither a package nor a 'pip:' list" % (entry,))
    result = []
    for spec, source in packages:
        match = NAME_RE.match(str(spec))
        if not match:
            raise EnvFileError("cannot read a package name from %s dependency %r" % (source, spec))
        result.append((match.group(1), source))
    return result


def load_module_map():
    with open(MODULE_MAP_FILE, encoding="utf-8") as f:
        data = json.load(f)
    return data["modules"], data["skip"]


def module_for(name, modules, skip):
    """The module to import for a package, or (None, why) when it has none.

    Lookups ignore case and treat '-', '_' and '.' alike (PEP 503); names not in the map import as
    themselves, lower-cased, with '-' turned into '_' (ruamel.yaml stays ruamel.yaml).
    """
    key = name.lower()
    normalized = re.sub(r"[-_.]+", "-", key)
    for candidate in (key, normalized):
        if candidate in skip:
            return None, skip[candidate]
        if candidate in modules:
            return modules[candidate], None
    return key.replace("-", "_"), None


def try_import(module):
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_CODE, module],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=IMPORT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {
            "ok": False,
            "error": "the import did not finish within %ss" % IMPORT_TIMEOUT_S,
            "seconds": round(time.monotonic() - started, 3),
        }
    seconds = round(time.monotonic() - started, 3)
    if done.returncode == 0:
        try:
            version = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])["version"]
        except (ValueError, IndexError, KeyError, TypeError):
            version = None
        return {"ok": True, "version": version, "seconds": seconds}
    stderr = done.stderr.decode("utf-8", "replace").strip().splitlines()
    if done.returncode < 0:
        error = "the interpreter was killed by signal %d while importing" % -done.returncode
    else:
        error = stderr[-1] if stderr else "exited with code %d and no message" % done.returncode
    return {"ok": False, "error": error, "detail": "\n".join(stderr[-20:]), "seconds": seconds}


def main(argv):
    args = list(argv)
    json_out = None
    if "--json-out" in args:
        i = args.index("--json-out")
        if i + 1 >= len(args):
            print("usage: test_imports.py [ENV_FILE] [--json-out PATH]", file=sys.stderr)
            return 2
        json_out = args[i + 1]
        del args[i : i + 2]
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print("usage: test_imports.py [ENV_FILE] [--json-out PATH]", file=sys.stderr)
        return 2
    env_file = args[0] if args else os.environ.get("PROCTOR_ENV_FILE", DEFAULT_ENV_FILE)

    report = {
        "envFile": env_file,
        "python": sys.version.split()[0],
        "results": [],
        "error": None,
    }
    try:
        packages = load_env_file(env_file)
        modules, skip = load_module_map()
    except (EnvFileError, OSError, ValueError, KeyError) as error:
        report["error"] = "%s: %s" % (env_file, error)
        print("error: %s" % report["error"], file=sys.stderr)
        emit(report, json_out)
        return 2

    print("Importing the packages of %s with Python %s" % (env_file, report["python"]))
    for name, source in packages:
        module, why = module_for(name, modules, skip)
        entry = {"package": name, "source": source, "module": module}
        if module is None:
            entry.update({"ok": True, "skipped": True, "reason": why})
            print("  skip  %-28s %s" % (name, why))
        else:
            entry.update(try_import(module))
            if entry["ok"]:
                version = entry.get("version")
                print("  ok    %-28s import %s%s" % (name, module, " (%s)" % version if version else ""))
            else:
                print("  FAIL  %-28s import %s: %s" % (name, module, entry["error"]))
        report["results"].append(entry)

    tested = [r for r in report["results"] if not r.get("skipped")]
    failed = [r for r in tested if not r["ok"]]
    skipped = len(report["results"]) - len(tested)
    print(
        "%d of %d packages imported, %d failed, %d skipped"
        % (len(tested) - len(failed), len(tested), len(failed), skipped)
    )
    if failed:
        print("failed: %s" % ", ".join(r["package"] for r in failed))
    emit(report, json_out)
    return 1 if failed else 0


def emit(report, json_out):
    line = json.dumps(report, separators=(",", ":"), sort_keys=True)
    print(RESULT_PREFIX + line)
    if json_out:
        with open(json_out, "w", encoding="utf-8") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
