#!/bin/sh
# The engine sidecar of a runner pod: dockerd in a privileged container, with the flags the pod gives
# (deploy/kubernetes/runner-*.yaml). What Docker-in-Docker needs before dockerd starts, after the steps of
# moby's hack/dind:
set -eu

# AppArmor: where the node has it, dockerd loads its docker-default profile, through securityfs.
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
  mount -t securityfs none /sys/kernel/security || echo "proctor-engine: could not mount securityfs; AppArmor profiles may not load" >&2
fi

# cgroup v2: a cgroup that holds processes cannot hand controllers to child cgroups, and each sandbox's
# memory, CPU and pids limits are child cgroups of this one. Move this container's processes into a leaf,
# then enable every controller for the children.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control
fi

# A restarted sidecar finds the pid file of its previous dockerd on the pod's storage.
rm -f /var/run/docker.pid

exec dockerd "$@"
