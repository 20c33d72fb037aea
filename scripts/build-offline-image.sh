#!/usr/bin/env bash
# Build the offline runtime image (runtime/Dockerfile.offline) on top of the offline base image
# (scripts/build-base-image.sh): the production image's user, layout and entrypoint on Debian's Python
# stack. No registry is needed.
#
# Environment:
#   IMAGE       the tag to build (default proctor/runtime:cpu-offline)
#   BASE_IMAGE  the base image to build on (default: what scripts/build-base-image.sh builds or finds)
#
# The image carries a label with a hash of its inputs (Dockerfile.offline, the entrypoint, runtime/tests,
# the environment file, this script, the base image's tag and id); when $IMAGE already has that label, the
# build is skipped. Concurrent runs wait for each other (flock), so only one builds.
# Prints the image tag as the last line on stdout; progress goes to stderr.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${IMAGE:-proctor/runtime:cpu-offline}
label=org.proctor.inputs-hash

# Only one build at a time on this host; the others wait, then find the image built.
if command -v flock >/dev/null 2>&1 && [ -z "${PROCTOR_OFFLINE_BUILD_LOCKED:-}" ]; then
  lock="${TMPDIR:-/tmp}/proctor-build-offline-image.lock"
  exec 9>>"$lock"
  if ! flock -n 9; then
    echo "build-offline-image: another build is running; waiting for it" >&2
    flock 9
  fi
  export PROCTOR_OFFLINE_BUILD_LOCKED=1
fi

base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  base=$(bash "$repo_root/scripts/build-base-image.sh" | tail -n 1)
fi
if ! base_id=$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null); then
  echo "build-offline-image: base image $base is not on this Docker engine; build it with scripts/build-base-image.sh" >&2
  exit 1
fi

# The build context: exactly the files the Dockerfile copies, at their paths in the repository (the
# classic builder would otherwise send the whole repository, node_modules included).
inputs=(runtime/Dockerfile.offline runtime/entrypoint.sh runtime/environment-offline.yml)
while IFS= read -r -d '' file; do
  inputs+=("$file")
done < <(cd "$repo_root" && find runtime/tests -type f ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z)

hash=$(
  cd "$repo_root"
  {
    sha256sum "${inputs[@]}"
    sha256sum scripts/build-offline-image.sh
    echo "base $base $base_id"
  } | sha256sum | cut -c1-16
)

current=$(docker image inspect --format "{{index .Config.Labels \"$label\"}}" "$image" 2>/dev/null || true)
if [ "$current" = "$hash" ]; then
  echo "build-offline-image: $image is up to date (inputs $hash), skipping" >&2
  echo "$image"
  exit 0
fi

previous=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
context=$(mktemp -d "${TMPDIR:-/tmp}/proctor-offline-context.XXXXXX")
trap 'rm -rf "$context"' EXIT
(cd "$repo_root" && tar -cf - "${inputs[@]}") | tar -xf - -C "$context"
chmod -R a+rX "$context"

echo "build-offline-image: building $image on $base (inputs $hash)" >&2
docker build \
  --file "$context/runtime/Dockerfile.offline" \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "INPUTS_HASH=$hash" \
  --tag "$image" \
  "$context" >&2

# The image this one replaced, now untagged: remove it (the engine refuses while a container uses it).
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$image")" ] &&
  [ "$(docker image inspect --format '{{len .RepoTags}}' "$previous" 2>/dev/null || echo 1)" = 0 ]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
echo "$image"
