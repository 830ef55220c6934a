#!/usr/bin/env bash
# Runs the project's install step and test command inside a brand-new Debian 12 root, so that a
# package or file only this machine has cannot make them pass (`make test-fresh`, and what
# .ci/run does on every CI run).
#
#   scripts/fresh-root.sh [COMMAND...]     default: bash .ci/run (inside: install-deps + make test)
#
# What it does, as root on the host:
#  1. installs mmdebstrap on the host if needed;
#  2. builds a minimal Debian bookworm root (mmdebstrap --variant=minbase, plus ca-certificates)
#     from the machine's own apt sources; the tarball is cached under .cache/fresh-root/ for local
#     runs (a CI clone starts without .cache/, so CI builds it in every run); every run extracts
#     it anew into an empty directory;
#  3. carries the machine's package-registry setup into it, copied as it is: apt's sources and
#     apt.conf.d, pip's configuration files and the PIP_*/proxy/SSL_CERT_* environment, the local
#     CA certificates of /usr/local/share/ca-certificates (update-ca-certificates runs inside);
#  4. places a clean clone of this repository's HEAD at the same absolute path inside the root
#     and ../shared beside it (read-only), as CI places them; the Swift toolchain (found from
#     `command -v swiftc`) is bind-mounted read-only at its own path;
#  5. in a private mount and PID namespace: mounts /proc /sys /dev /dev/pts /dev/shm /run /tmp,
#     chroots, and runs COMMAND there with a clean environment. Everything it mounted and every
#     process it started end with the namespace, on success, failure, timeout or a kill;
#  6. removes the root (FRESH_ROOT_KEEP=1 keeps it for a look).
# Exit status: COMMAND's.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
say() { printf 'fresh-root: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "must run as root (mounts, chroot)"; exit 2; }
swiftc=$(command -v swiftc) || { say "no swiftc on PATH: the Swift toolchain is the one thing the root borrows"; exit 2; }
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$swiftc")")")")   # /opt/swift/usr/bin/swiftc -> /opt/swift
[ -x "$toolchain/usr/bin/swiftc" ] || { say "cannot find the toolchain's root from $swiftc"; exit 2; }

if ! command -v mmdebstrap >/dev/null; then
    say "installing mmdebstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

cache=${FRESH_ROOT_CACHE:-$repo/.cache/fresh-root}
mkdir -p "$cache"
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { say "the host has no apt sources to carry into the root"; exit 2; }
aptconf=(/etc/apt/apt.conf.d/*)
# The tarball is keyed by what goes into it: the recipe below and the host's apt setup.
key=$( (echo "minbase ca-certificates v1"; cat "${sources[@]}" "${aptconf[@]}") | sha256sum | cut -c1-12)
base=$cache/bookworm-minbase-$key.tar
if [ ! -s "$base" ]; then
    say "building a Debian bookworm root with mmdebstrap (minbase)"
    opts=()
    for f in "${aptconf[@]}"; do [ -f "$f" ] && opts+=(--aptopt="$f"); done
    t0=$SECONDS
    mmdebstrap --quiet --format=tar --variant=minbase --include=ca-certificates "${opts[@]}" \
        bookworm "$base.part" "${sources[@]}"
    mv "$base.part" "$base"
    say "built $(basename "$base") in $((SECONDS - t0)) s"
else
    say "reusing the cached base $(basename "$base") (delete it to build anew)"
fi

root=$(mktemp -d "$cache/root.XXXXXX")
cleanup() {
    local rc=$?
    # The namespace is gone by now (its mounts with it); refuse to delete through a live mount.
    if grep -q " $root[/ ]" /proc/self/mountinfo; then
        say "something is still mounted under $root: left in place"
    elif [ -z "${FRESH_ROOT_KEEP:-}" ]; then
        rm -rf "$root"
    else
        say "kept $root"
    fi
    exit "$rc"
}
trap cleanup EXIT
tar -xf "$base" -C "$root"
say "extracted a new root at $root ($(tar -tf "$base" | grep -c '^./var/lib/dpkg/info/.*\.list$') packages)"

# The machine's registry setup, copied as it is.
rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/* "$root"/etc/apt/apt.conf.d/99mmdebstrap
for f in "${sources[@]}"; do cp -a "$f" "$root$f"; done
for f in "${aptconf[@]}"; do [ -f "$f" ] && cp -a "$f" "$root/etc/apt/apt.conf.d/"; done
pipconf=()
for f in /etc/pip.conf /root/.config/pip/pip.conf /root/.pip/pip.conf ${PIP_CONFIG_FILE:-}; do
    if [ -f "$f" ]; then pipconf+=("$f"); fi
done
for f in "${pipconf[@]}"; do mkdir -p "$root$(dirname "$f")"; cp -a "$f" "$root$f"; done
if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"

# A clean clone of HEAD, at the path CI uses, with ../shared beside it.
shared=$(dirname "$repo")/shared
mkdir -p "$root$repo"
git clone -q --no-local "$repo" "$root$repo"
say "cloned $(git -C "$repo" rev-parse --short HEAD) into the root at $repo"
mkdir -p "$root$toolchain"
[ -d "$shared" ] && mkdir -p "$root$shared"
# Local wheel directories that pip's configuration names (find-links) come along, read-only.
wheels=$( { [ ${#pipconf[@]} -eq 0 ] || sed -n 's/^ *find-links *= *//p' "${pipconf[@]}"; echo "${PIP_FIND_LINKS:-}"; } \
          | tr ' ' '\n' | grep '^/' | sort -u | while read -r d; do [ -d "$d" ] && echo "$d"; done | tr '\n' ' ' || true)
for d in $wheels; do mkdir -p "$root$d"; done

# Environment inside: nothing of the host's but the registry and certificate settings.
envs=(HOME=/root "PATH=$toolchain/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
      LANG=C.UTF-8 TERM=dumb CI="${CI:-}" TETHER_FRESH_ROOT=1)
while IFS='=' read -r name _; do
    case "$name" in
        PIP_*|*_proxy|*_PROXY|SSL_CERT_*|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE) envs+=("$name=${!name}") ;;
    esac
done < <(env)
[ $# -gt 0 ] || set -- bash .ci/run

# The namespace's first process: mounts, chroot, COMMAND. It sees $root, $repo, ... as arguments.
inner='set -eu
root=$1 toolchain=$2 shared=$3 repo=$4 wheels=$5; shift 5
mount --make-rprivate /
# The root a mount point of its own: inside a chroot whose / is a plain directory, a mount
# namespace cannot set its root propagation (`unshare --propagation private` fails with EINVAL,
# which the agent-mode SSH tests use), unlike on a real machine.
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777,size=8g tmpfs "$root/tmp"
mount --bind "$toolchain" "$root$toolchain"; mount -o remount,bind,ro "$root$toolchain"
for d in $wheels; do mount --bind "$d" "$root$d"; mount -o remount,bind,ro "$root$d"; done
if [ -d "$shared" ]; then mount --bind "$shared" "$root$shared"; mount -o remount,bind,ro "$root$shared"; fi
exec chroot "$root" /usr/bin/env -i "$@"'
incmd=(bash -c 'update-ca-certificates >/dev/null 2>&1; cd "$0" && echo "fresh-root: inside $(. /etc/os-release; echo "$PRETTY_NAME"), $(dpkg-query -f ".\n" -W | wc -l) packages, at $PWD" >&2 && exec "$@"' "$repo" "$@")
say "running in the root: $*"
# In the background, so that a TERM (a CI time-out) reaches the trap at once: killing unshare
# kills the namespace's first process (--kill-child), and with it every process inside.
unshare --mount --pid --fork --kill-child bash -c "$inner" inner "$root" "$toolchain" "$shared" "$repo" "$wheels" \
    "${envs[@]}" "${incmd[@]}" &
ns=$!
trap 'say "stopped: ending everything in the root"; kill -TERM "$ns" 2>/dev/null; wait "$ns"; exit 130' INT TERM
rc=0
wait "$ns" || rc=$?
say "command in the fresh root exited $rc"
exit "$rc"
