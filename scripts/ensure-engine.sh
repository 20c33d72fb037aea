#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io when the daemon binary is
# missing, start dockerd in the background when `docker info` fails, wait for it (bounded).
# Idempotent: does nothing where an engine already runs.
set -euo pipefail

wait_seconds=${ENGINE_WAIT_SECONDS:-60}
log=${DOCKERD_LOG:-/var/log/proctor-dockerd.log}

if docker info >/dev/null 2>&1; then
  echo "ensure-engine: Docker engine already running ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-engine: dockerd is not installed and this is not root; install docker.io (sudo apt-get install docker.io) and rerun" >&2
    exit 1
  fi
  echo "ensure-engine: installing ${need[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" iptables >/dev/null
fi

echo "ensure-engine: starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 "$wait_seconds"); do
  if docker info >/dev/null 2>&1; then
    echo "ensure-engine: Docker engine up ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "ensure-engine: dockerd did not answer within ${wait_seconds}s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
