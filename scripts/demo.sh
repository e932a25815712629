#!/usr/bin/env bash
# The main job, from nothing: installs what is missing, builds, and runs an
# interactive container.  Until the daemon lands (issue 3) this is a busybox
# shell in a container made by berth-runtime from Debian's busybox-static;
# it becomes `berth run -it python` when that works.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "$(id -u)" != 0 ]; then
  echo "demo.sh: containers need root: run as root" >&2
  exit 2
fi
scripts/deps.sh build
[ -d build ] || meson setup build -Dtests=disabled
ninja -C build
bundle=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/dev" "$bundle/rootfs/sys" "$bundle/rootfs/tmp"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$bundle/rootfs/bin/$a"; done
(cd "$bundle" && "$top/build/src/cmd/berth-runtime" spec)
echo "demo.sh: a busybox shell in a fresh container (exit to leave)" >&2
"$top/build/src/cmd/berth-runtime" run --bundle "$bundle" "demo-$$"
