#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io when the daemon binary is
# missing, start dockerd in the background when `docker info` fails, wait for it (bounded). Then make sure
# gVisor's runsc is registered with it (install Debian's runsc, add it to /etc/docker/daemon.json, reload
# dockerd with SIGHUP: never a restart, other runs may be using the engine). PROCTOR_SKIP_RUNSC=1 skips that.
# Idempotent: does nothing where an engine already runs with runsc registered.
set -euo pipefail

wait_seconds=${ENGINE_WAIT_SECONDS:-60}
log=${DOCKERD_LOG:-/var/log/proctor-dockerd.log}

daemon_json=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}

has_runsc() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

# gVisor: Debian's runsc with the ptrace platform (works anywhere, no KVM needed) and no network stack.
ensure_runsc() {
  [ "${PROCTOR_SKIP_RUNSC:-0}" = 1 ] && return 0
  has_runsc && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-engine: runsc (gVisor) is not registered with the engine and this is not root; the runsc tests will be skipped (run this script as root to register it)" >&2
    return 0
  fi
  if ! command -v runsc >/dev/null 2>&1; then
    echo "ensure-engine: installing runsc (gVisor) from Debian"
    apt-get update -qq
    NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >/dev/null
  fi
  mkdir -p "$(dirname "$daemon_json")"
  # Merge into whatever daemon.json already says; only the runsc entry is ours.
  node -e '
    const fs = require("fs");
    const [file, runsc] = process.argv.slice(1);
    const config = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8") || "{}") : {};
    config.runtimes = { ...config.runtimes, runsc: { path: runsc, runtimeArgs: ["--platform=ptrace", "--network=none"] } };
    fs.writeFileSync(file + ".proctor-tmp", JSON.stringify(config, null, 2) + "\n");
    fs.renameSync(file + ".proctor-tmp", file);
  ' "$daemon_json" "$(command -v runsc)"
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null || pidof dockerd || true)
  if [ -z "$pid" ]; then
    echo "ensure-engine: cannot find dockerd's pid to reload it; reload it yourself (kill -HUP <dockerd pid>)" >&2
    return 1
  fi
  echo "ensure-engine: registered runsc in $daemon_json; reloading dockerd (SIGHUP to $pid)"
  kill -HUP "$pid"
  for _ in $(seq 1 20); do
    has_runsc && { echo "ensure-engine: runsc registered"; return 0; }
    sleep 0.5
  done
  echo "ensure-engine: dockerd did not pick up runsc after SIGHUP; check $daemon_json and dockerd's log" >&2
  return 1
}

if docker info >/dev/null 2>&1; then
  echo "ensure-engine: Docker engine already running ($(docker version --format '{{.Server.Version}}'))"
  ensure_runsc
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
    ensure_runsc
    exit 0
  fi
  sleep 1
done
echo "ensure-engine: dockerd did not answer within ${wait_seconds}s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
