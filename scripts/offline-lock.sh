#!/usr/bin/env bash
# The offline flavour's lock, runtime/lock/offline.lock: every Debian package of the offline base image
# (scripts/build-base-image.sh) with its version, architecture, the .deb's SHA256 and its file on the mirror,
# as Debian's signed index gives them (debootstrap resolves the packages and verifies the index).
#
#   scripts/offline-lock.sh write          resolve on the mirror and write the lock (`make lock FLAVOUR=offline`)
#   scripts/offline-lock.sh check          fail, naming each package, when the mirror has moved past the lock
#   scripts/offline-lock.sh verify ROOT    fail unless ROOT (a debootstrapped tree, .debs still in its apt
#                                          cache) holds exactly the locked packages, each .deb's SHA256 locked
#   scripts/offline-lock.sh packages       the Debian packages the flavour asks for, one a line
#
# Debian's mirror keeps only the current version of each package: when a point release replaces one, the
# lock no longer matches and `make lock FLAVOUR=offline` refreshes it (and the base image's tag with it).
# Needs root (debootstrap). Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), OFFLINE_LOCK.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
environment=$repo_root/runtime/environment-offline.yml
lock=${OFFLINE_LOCK:-$repo_root/runtime/lock/offline.lock}
fix="run \`make lock FLAVOUR=offline\` (scripts/offline-lock.sh write) and commit runtime/lock/offline.lock"

fail() {
  echo "offline-lock: $*" >&2
  exit 1
}

# The Debian package of a conda package name: python -> python3, scikit-learn -> python3-sklearn, pytz ->
# python3-tz, python-dateutil -> python3-dateutil, anything else -> python3-<name>.
debian_package() {
  case $1 in
    python) echo python3 ;;
    scikit-learn) echo python3-sklearn ;;
    pytz) echo python3-tz ;;
    python-*) echo "python3-${1#python-}" ;;
    *) echo "python3-$1" ;;
  esac
}

# What the flavour asks for: ca-certificates, tzdata, and the Debian package of each name under
# `dependencies:` of the environment file (versions and comments dropped; the file is a flat conda list).
packages() {
  local names name
  mapfile -t names < <(awk '
    /^dependencies:/ { inside = 1; next }
    /^[^[:space:]#]/ { inside = 0 }
    inside && /^[[:space:]]*-[[:space:]]*[A-Za-z0-9]/ {
      sub(/#.*/, ""); sub(/^[[:space:]]*-[[:space:]]*/, ""); sub(/[=<>!~ ].*/, ""); print
    }' "$environment")
  [ ${#names[@]} -gt 0 ] || fail "$environment lists no dependencies; list the offline flavour's packages there"
  echo ca-certificates
  echo tzdata
  for name in "${names[@]}"; do debian_package "$name"; done
}

# Resolves the packages on the mirror as debootstrap --variant=minbase would install them, and prints the
# release line, then one line per package: name, version, architecture, SHA256, filename (tab-separated,
# sorted by name). The index is the one debootstrap downloaded and verified against the signed Release.
resolve() {
  command -v debootstrap >/dev/null || fail "debootstrap is missing; install it (sudo apt-get install debootstrap) and rerun"
  local work include lists
  work=$(mktemp -d /var/tmp/proctor-offline-lock.XXXXXX)
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" RETURN
  include=$(packages | paste -sd, -)
  debootstrap --print-debs --keep-debootstrap-dir --variant=minbase --include="$include" "$suite" "$work/root" "$mirror" \
    >"$work/debs" 2>"$work/log" || { cat "$work/log" >&2; fail "debootstrap could not resolve $include on $mirror"; }
  lists=$work/root/var/lib/apt/lists
  awk -F': ' '$1 == "Version" { v = $2 } $1 == "Date" { d = $2 } END { printf "%s (%s)\n", v, d }' \
    "$lists"/*_dists_"${suite}"_Release
  tr ' ' '\n' <"$work/debs" | sed '/^$/d' | sort -u >"$work/wanted"
  awk -v OFS='\t' '
    NR == FNR { wanted[$1] = 1; next }
    /^Package: / { name = substr($0, 10) }
    /^Version: / { version = substr($0, 10) }
    /^Architecture: / { arch = substr($0, 15) }
    /^SHA256: / { sha = substr($0, 9) }
    /^Filename: / { file = substr($0, 11) }
    /^$/ {
      if (name in wanted && !(name in seen)) { seen[name] = 1; print name, version, arch, sha, file }
      name = ""
    }
    END { for (n in wanted) if (!(n in seen)) { print "offline-lock: " n " is not in the index" > "/dev/stderr"; exit 1 } }
  ' "$work/wanted" "$lists"/*_main_binary-*_Packages | LC_ALL=C sort
}

# The locked packages (the lines of the lock that are not comments).
locked() {
  [ -f "$lock" ] || fail "$lock is missing; $fix"
  grep -v '^#' "$lock" | sed '/^$/d'
}

# The value of a `# key<TAB>value` header line of the lock.
header() {
  awk -F'\t' -v key="# $1" '$1 == key { print $2; exit }' "$lock"
}

# The lock must have been made for the packages the environment file asks for now.
check_asks() {
  local asked
  asked=$(packages | paste -sd' ' -)
  [ "$(header include)" = "$asked" ] ||
    fail "$lock was made for \"$(header include)\" but runtime/environment-offline.yml now asks for \"$asked\"; $fix"
}

write() {
  local resolved release
  resolved=$(resolve)
  release=$(head -n 1 <<<"$resolved")
  mkdir -p "$(dirname "$lock")"
  {
    echo "# The offline flavour's lock: every Debian package of its base image, as Debian's signed index gave it."
    echo "# Made by \`make lock FLAVOUR=offline\` (scripts/offline-lock.sh write); never edit it by hand."
    printf '# suite\t%s\n# mirror\t%s\n# release\t%s\n# include\t%s\n' \
      "$suite" "$mirror" "$release" "$(packages | paste -sd' ' -)"
    printf '# package\tversion\tarchitecture\tsha256\tfilename\n'
    tail -n +2 <<<"$resolved"
  } >"$lock.tmp"
  mv "$lock.tmp" "$lock"
  echo "offline-lock: wrote $lock ($(locked | wc -l) packages, Debian $release)" >&2
}

# Compares the mirror's resolution with the lock; lists what moved.
check() {
  check_asks
  local now
  now=$(resolve | tail -n +2)
  if [ "$now" != "$(locked)" ]; then
    echo "offline-lock: the mirror $mirror has moved past $lock (Debian $(header release)):" >&2
    join -t $'\t' -a 1 -a 2 -e '(none)' -o 0,1.2,2.2 <(locked | cut -f1,2,4) <(cut -f1,2,4 <<<"$now") |
      awk -F'\t' '$2 != $3 { print "  " $1 ": locked " $2 ", mirror " $3 }' >&2
    # The same version with another checksum shows as an unchanged version: say so.
    join -t $'\t' <(locked | cut -f1,2,4) <(cut -f1,2,4 <<<"$now") -j 1 -o 0,1.2,1.3,2.2,2.3 |
      awk -F'\t' '$2 == $4 && $3 != $5 { print "  " $1 " " $2 ": the .deb checksum changed on the mirror" }' >&2
    fail "$fix"
  fi
  echo "offline-lock: the mirror still has every package of $lock" >&2
}

# The tree holds exactly the locked packages (name, version, architecture), and every .deb debootstrap
# installed from has a locked checksum.
verify() {
  local root=${1:?usage: scripts/offline-lock.sh verify ROOT}
  local installed debs
  installed=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Package}\t${Version}\t${Architecture}\n' | LC_ALL=C sort)
  if [ "$installed" != "$(locked | cut -f1-3)" ]; then
    echo "offline-lock: $root does not hold exactly the packages of $lock:" >&2
    { diff <(locked | cut -f1-3) <(echo "$installed") || true; } |
      sed -n 's/^</  locked only:/p; s/^>/  installed only:/p' >&2
    fail "$fix"
  fi
  debs=$(find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec sha256sum {} + | cut -d' ' -f1 | LC_ALL=C sort)
  if [ "$debs" != "$(locked | cut -f4 | LC_ALL=C sort)" ]; then
    fail "the .deb files debootstrap installed do not have the checksums of $lock; $fix"
  fi
  echo "offline-lock: $root holds exactly the $(locked | wc -l) locked packages, checksums verified" >&2
}

case ${1:-} in
  write) write ;;
  check) check ;;
  verify) verify "${2:-}" ;;
  packages) packages ;;
  *) fail "usage: scripts/offline-lock.sh write|check|verify ROOT|packages" ;;
esac
