# syntax=docker/dockerfile:1
# The Docker engine of a runner pod (the `engine` sidecar of deploy/kubernetes/runner-*.yaml and of the ARC
# values): Debian's docker.io with Debian's runsc (gVisor) registered, the same engine the project's tests
# run on (scripts/ensure-engine.sh). Built from the repository root:
#   docker build -f deploy/engine.Dockerfile --target cpu -t registry.example.org/proctor/engine:0.1.0 .
#   docker build -f deploy/engine.Dockerfile --target gpu -t registry.example.org/proctor/engine-gpu:0.1.0 .
# It runs privileged (Docker in a container needs it), and only dockerd.

FROM debian:12.12-slim AS cpu
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    apparmor ca-certificates docker.io iptables runsc \
  && rm -rf /var/lib/apt/lists/*
# runsc registered as "runsc" (competition.yml limits.runtime: runsc); runc stays the default.
COPY deploy/engine/daemon.json /etc/docker/daemon.json
COPY deploy/engine/entrypoint.sh /usr/local/bin/proctor-engine
VOLUME /var/lib/docker
ENTRYPOINT ["/usr/local/bin/proctor-engine"]

# The gpu engine: the NVIDIA Container Toolkit, so `--gpus device=<i>` reaches the pod's GPUs.
FROM cpu AS gpu
ARG NVIDIA_CONTAINER_TOOLKIT_VERSION=1.17.8-1
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl gpg \
  && curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey \
    | gpg --dearmor -o /usr/share/keyrings/nvidia-container-toolkit-keyring.gpg \
  && echo "deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://nvidia.github.io/libnvidia-container/stable/deb/\$(ARCH) /" \
    > /etc/apt/sources.list.d/nvidia-container-toolkit.list \
  && apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "nvidia-container-toolkit=${NVIDIA_CONTAINER_TOOLKIT_VERSION}" \
    "nvidia-container-toolkit-base=${NVIDIA_CONTAINER_TOOLKIT_VERSION}" \
    "libnvidia-container-tools=${NVIDIA_CONTAINER_TOOLKIT_VERSION}" \
    "libnvidia-container1=${NVIDIA_CONTAINER_TOOLKIT_VERSION}" \
  && apt-get purge -y curl gpg && apt-get autoremove -y \
  && rm -rf /var/lib/apt/lists/*
