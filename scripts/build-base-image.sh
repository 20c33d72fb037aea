#!/usr/bin/env bash
# Build the offline base image: Debian bookworm (debootstrap --variant=minbase) with Debian's python3, numpy,
# pandas and scikit-learn, imported with `docker import`. No registry is needed, only Debian's mirror.
# The tag carries a hash of this recipe, so a rebuild happens only when the recipe changes.
# Prints the image tag as the last line on stdout; progress goes to stderr.
set -euo pipefail

suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=(python3 python3-numpy python3-pandas python3-sklearn ca-certificates tzdata)
repo=${BASE_IMAGE_REPO:-proctor/base}

recipe_hash=$( { cat "$0"; echo "$suite ${packages[*]}"; } | sha256sum | cut -c1-12)
tag="$repo:$suite-$recipe_hash"

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

include=$(IFS=,; echo "${packages[*]}")
echo "build-base-image: debootstrap $suite ($include) into $root" >&2
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >&2

# Slim it down: caches, package lists, docs and byte-code nobody needs at run time.
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*
find "$root" -name '__pycache__' -type d -prune -exec rm -rf {} +

echo "build-base-image: importing as $tag" >&2
tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1' \
  --change 'CMD ["python3"]' \
  --message "proctor offline base: debootstrap $suite + ${packages[*]}" \
  - "$tag" >&2
echo "$tag"
