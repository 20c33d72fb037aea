#!/usr/bin/env bash
# Picks the runtime image for a local run and prints it on stdout (what it did goes to stderr):
# the competition's image if this engine has it, else a pull of it, else the offline flavour, built here
# from Debian's packages when missing. Usage: scripts/runtime-image.sh <image> <offline-image>
set -euo pipefail
image=$1
offline=$2
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "using the local image $image" >&2
  echo "$image"
elif docker pull "$image" >/dev/null 2>&1; then
  echo "pulled $image" >&2
  echo "$image"
else
  echo "$image is not here and cannot be pulled; using the offline flavour $offline" >&2
  IMAGE="$offline" bash "$(dirname "$0")/build-offline-image.sh" >/dev/null
  echo "$offline"
fi
