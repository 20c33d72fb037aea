#!/usr/bin/env bash
# Set up this machine for the tests and the local loop, from a fresh clone on Debian bookworm: Debian's
# packages the tests need, a running Docker engine (scripts/ensure-engine.sh), the offline base image, the
# node packages and the build. `make test` and `.ci/run` both run it; it is idempotent and quick when
# everything is there already. Installs as root, or through sudo; otherwise says what to install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

log() { printf '\n=== %s ===\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}

log "node"
if ! command -v node >/dev/null 2>&1 || ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "setup: Node.js 20.19 or newer is needed (found: $(node --version 2>/dev/null || echo none)); install it (https://nodejs.org, or NodeSource's Debian packages) and rerun" >&2
  exit 1
fi
node --version

log "system packages"
# What the tests use from Debian: the Docker engine and debootstrap (the offline base image), Chromium (every
# page is checked in a real browser), docker-registry and htpasswd (push tests), unzip, and scikit-learn
# and pandas (the metric fixtures and the scoring benchmark's baseline).
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
/usr/bin/python3 -c 'import sklearn, pandas' >/dev/null 2>&1 || need+=(python3-sklearn python3-pandas)
if [ ${#need[@]} -eq 0 ]; then
  echo "all present"
else
  echo "installing: ${need[*]}"
  if ! as_root apt-get update -qq || ! as_root apt-get install -y -qq "${need[@]}" >/dev/null; then
    echo "setup: cannot install ${need[*]} (not root, no sudo); run: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

log "docker engine"
if ! docker info >/dev/null 2>&1; then
  as_root bash scripts/ensure-engine.sh || bash scripts/ensure-engine.sh
else
  bash scripts/ensure-engine.sh
fi

log "offline base image"
bash scripts/build-base-image.sh

log "node packages"
# npm ci when node_modules is missing or older than the lock file (npm keeps its copy of the lock there).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules is current"
fi

log "build"
npm run build
