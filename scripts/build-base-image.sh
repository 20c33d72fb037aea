#!/usr/bin/env bash
# Build the offline base image: Debian bookworm (debootstrap --variant=minbase) with the Debian packages of
# the Python stack listed in runtime/environment-offline.yml (the one list of the offline flavour's
# packages) at exactly the versions of runtime/lock/offline.lock, imported with `docker import`. No registry
# is needed, only Debian's mirror.
# The tag carries a hash of this recipe, the lock and the package list, so a rebuild happens only when they
# change.
# Prints the image tag as the last line on stdout; progress goes to stderr.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
repo=${BASE_IMAGE_REPO:-proctor/base}

# The packages come from the lock (runtime/lock/offline.lock, made by `make lock FLAVOUR=offline` from the
# environment file): the build installs exactly those, and fails, naming `make lock`, when the mirror has
# moved past them. The tag hashes the lock, so a new lock makes a new base image.
lock_script=$repo_root/scripts/offline-lock.sh
lock=${OFFLINE_LOCK:-$repo_root/runtime/lock/offline.lock}
export OFFLINE_LOCK=$lock DEBIAN_MIRROR=$mirror
mapfile -t packages < <(bash "$lock_script" packages)
[ ${#packages[@]} -gt 0 ] || exit 1
if [ ! -f "$lock" ]; then
  echo "build-base-image: $lock is missing; run \`make lock FLAVOUR=offline\` and commit it" >&2
  exit 1
fi

recipe_hash=$( { cat "$0" "$lock_script" "$lock"; echo "$suite ${packages[*]}"; } | sha256sum | cut -c1-12)
tag="$repo:$suite-$recipe_hash"

# One build at a time on this host (test runs started together all ask for it); the others wait, then find
# the image built.
if command -v flock >/dev/null 2>&1; then
  exec 8>>"${TMPDIR:-/tmp}/proctor-build-base-image.lock"
  if ! flock -n 8; then
    echo "build-base-image: another build is running; waiting for it" >&2
    flock 8
  fi
fi

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-base-image: $tag already present, skipping" >&2
  echo "$tag"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "build-base-image: debootstrap is missing; install it (sudo apt-get install debootstrap) and rerun" >&2
    exit 1
  fi
  echo "build-base-image: installing debootstrap from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

root=$(mktemp -d /var/tmp/proctor-base.XXXXXX)
trap 'rm -rf "$root"' EXIT

# The mirror must still hold every locked package at its version and checksum (else: make lock).
bash "$lock_script" check

include=$(IFS=,; echo "${packages[*]}")
echo "build-base-image: debootstrap $suite ($include) into $root" >&2
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >&2

# Exactly the locked packages were installed, from .debs with the locked checksums.
bash "$lock_script" verify "$root"

# Slim it down: caches, package lists, docs and byte-code nobody needs at run time. Each package's
# copyright file stays: it is the licence the SBOM reports (proctor runtime sbom).
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*
find "$root/usr/share/doc" -mindepth 2 ! -type d ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 2 -type d -empty -delete
find "$root" -name '__pycache__' -type d -prune -exec rm -rf {} +
# debootstrap makes device nodes in /dev; the engine mounts its own /dev at run time, so the image keeps
# only the empty folder (images built on it then carry no device files for the archive checks to weigh).
find "$root/dev" -mindepth 1 -delete

echo "build-base-image: importing as $tag" >&2
tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1' \
  --change 'CMD ["python3"]' \
  --message "proctor offline base: debootstrap $suite + ${packages[*]}" \
  - "$tag" >&2
echo "$tag"
