#!/usr/bin/env bash
# Installs (via apt-get) everything berth needs to build, demo, test and benchmark on
# Debian 12, skipping what is already there.  Usage: scripts/deps.sh [build|demo|test|bench]
set -euo pipefail
what=${1:-test}

# musl-tools: berth-shim, one per running container, is linked against musl to stay small, and
# berth-shim-helper-lite (each container's create) to start in a tenth of glibc's time
build_pkgs=(meson ninja-build pkg-config gcc libc6-dev libseccomp-dev libsqlite3-dev
            libcurl4-openssl-dev libssl-dev libzstd-dev libdeflate-dev zlib1g-dev
            libisal-dev libbz2-dev liblzma-dev libmnl-dev libnftables-dev musl-tools
            busybox-static iproute2 nftables ca-certificates)
test_pkgs=(check libsubunit-dev clang python3 python3-pytest python3-docker docker.io
           docker-registry containerd runc crun podman openssl apache2-utils uidmap
           procps psmisc util-linux)
# zstd: also tests/integration/test_layer_apply.py compresses layers with the zstd CLI
test_pkgs+=(python3-cryptography zstd)
# tests/integration/test_cgroup_v2_qemu.py boots Debian's kernel with a busybox initramfs
test_pkgs+=(qemu-system-x86 cpio busybox-static)
# tests/integration/test_compose.py: Debian's docker-compose 1.29 drives berthd
test_pkgs+=(docker-compose)
# tests/integration/test_cli_format.py: Go's own text/template is the reference for --format
test_pkgs+=(golang-go)
# scripts/demo.sh: a registry mirror on loopback with a python image built from Debian's
# packages when Docker Hub cannot be reached (python-image.py uses the tests' helpers)
demo_pkgs=(docker-registry debootstrap curl python3 python3-pytest)
bench_pkgs=(hyperfine debootstrap)
# bench/engines.py: mkfs.ext4 for the scratch filesystem the pull benchmarks use
bench_pkgs+=(e2fsprogs)
# bench/layer-unpack --syscalls: syscalls per tar entry
bench_pkgs+=(strace)
# bench/net: TCP throughput through each engine's bridge and published ports
bench_pkgs+=(iperf3)

pkgs=("${build_pkgs[@]}")
case "$what" in
build) ;;
demo) pkgs+=("${demo_pkgs[@]}") ;;
test) pkgs+=("${test_pkgs[@]}") ;;
bench) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "deps.sh: unknown set '$what' (build, demo, test or bench)" >&2; exit 2 ;;
esac

# The pure cgroup v2 test's kernel: linux-image-amd64's dependency package,
# unpacked with dpkg -x into a cache dir, never installed on this machine.
test_kernel_dir=/var/cache/berth/test-kernel
if [ "$what" != build ] && [ "$what" != demo ] && ! compgen -G "$test_kernel_dir/boot/vmlinuz-*" >/dev/null; then
  kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  if [ -z "$kpkg" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -q
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  fi
  ktmp=$(mktemp -d)
  chmod 755 "$ktmp" # apt-get download drops privileges to _apt
  (cd "$ktmp" && apt-get download -q "$kpkg")
  mkdir -p "$test_kernel_dir"
  dpkg -x "$ktmp"/*.deb "$test_kernel_dir"
  rm -rf "$ktmp"
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Services the packages ship (dockerd, containerd, registry) must not start
# on their own: the tests start exactly what they need, on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get -o DPkg::Lock::Timeout=600 update -q
apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
