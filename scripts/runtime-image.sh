#!/usr/bin/env bash
# Picks the runtime image for a local run and prints it on stdout (what it did goes to stderr): the
# competition's image for the flavour if this engine has it, else a pull of it, else the offline flavour,
# built here from Debian's packages when missing. Usage: scripts/runtime-image.sh <cpu|gpu>
# The names come from competition.yml through proctor; when the file is wrong, proctor's errors are shown
# and this exits non-zero, printing nothing.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
flavour=${1:?usage: scripts/runtime-image.sh <cpu|gpu>}
proctor=(node "$repo_root/build/proctor.mjs")
# COMPETITION: the competition.yml make was given (default the one at the root).
config=(--config "${COMPETITION:-competition.yml}")
image=$("${proctor[@]}" image-ref "${config[@]}" --flavour "$flavour")
offline=$("${proctor[@]}" image-ref "${config[@]}" --flavour offline)
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "using the local image $image" >&2
  echo "$image"
elif docker pull "$image" >/dev/null 2>&1; then
  echo "pulled $image" >&2
  echo "$image"
else
  echo "$image is not on this machine and cannot be pulled: standing in with the offline flavour $offline (a zip run prints what differs below)" >&2
  IMAGE="$offline" bash "$repo_root/scripts/build-offline-image.sh" >/dev/null
  echo "$offline"
fi
