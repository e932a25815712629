#!/usr/bin/env bash
# The main job, from nothing: installs what is missing, builds, and runs
#
#     berth run -it python
#
# as the article's docker does: "Unable to find image 'python:latest' locally",
# the pull with docker's progress, then a Python prompt inside a container.
# Type print(1+1), then exit() (the container's exit status becomes berth's).
#
# The demo runs a berthd of its own (socket /run/berth-demo/berth.sock, store
# /var/lib/berth-demo, kept between runs so the second run starts at once) and
# stops it afterwards.  Its containers get docker's default networking on a
# bridge of the demo's own (berthdemo0, the first free subnet of docker's pools,
# NAT in the nftables table berth-berthdemo0); when it stops, the table goes with
# berthd, the demo deletes the bridge and puts net.ipv4.ip_forward back as it
# was, so nothing of the host's configuration or of a berthd already running
# there is changed for good.  When Docker Hub cannot be reached (as on a machine
# without internet) it builds the python image from Debian's packages
# (scripts/python-image.sh, cached in /var/cache/berth/python-rootfs after the
# first build), serves it from a registry on 127.0.0.1, and gives that to the
# demo's berthd as a registry mirror (daemon.json "registry-mirrors"), saying so.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "$(id -u)" != 0 ]; then
  echo "demo.sh: containers need root: run as root" >&2
  exit 2
fi
scripts/deps.sh demo
[ -d build ] || meson setup build -Dtests=disabled
ninja -C build

data=/var/lib/berth-demo
run=/run/berth-demo
mkdir -p "$data" "$run"
config="$data/daemon.json"
registry_dir=""
berthd_pid=""
bridge=berthdemo0
ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)
cleanup() {
  if [ -n "$berthd_pid" ]; then
    kill -TERM "$berthd_pid" 2>/dev/null || true
    wait "$berthd_pid" 2>/dev/null || true
    ip link del "$bridge" 2>/dev/null || true
    echo "$ip_forward" > /proc/sys/net/ipv4/ip_forward
  fi
  if [ -n "$registry_dir" ]; then
    scripts/registry.sh stop "$registry_dir" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

if curl -s -o /dev/null --max-time 8 https://registry-1.docker.io/v2/; then
  printf '{"bridge": "%s"}\n' "$bridge" > "$config"
else
  read -r mirror registry_dir < <(scripts/registry.sh start)
  echo "demo.sh: Docker Hub cannot be reached: building the python image from Debian's" \
       "packages (cached after the first time) for a registry mirror on $mirror" >&2
  scripts/python-image.sh --registry "$mirror" >&2
  printf '{"registry-mirrors": ["http://%s"], "bridge": "%s"}\n' "$mirror" "$bridge" > "$config"
  echo "demo.sh: berthd pulls docker.io images through the mirror http://$mirror" \
       "(registry-mirrors in $config)" >&2
fi

if [ -e "$run/berth.sock" ] && "$top/build/src/cmd/berth" -H "unix://$run/berth.sock" version \
     >/dev/null 2>&1; then
  echo "demo.sh: a demo berthd is already running on $run/berth.sock; stop it first" >&2
  exit 1
fi
"$top/build/src/cmd/berthd" --config-file "$config" --data-root "$data" --exec-root "$run" \
  -H "unix://$run/berth.sock" > "$data/berthd.log" 2>&1 &
berthd_pid=$!
for _ in $(seq 100); do
  "$top/build/src/cmd/berth" -H "unix://$run/berth.sock" version >/dev/null 2>&1 && break
  kill -0 "$berthd_pid" 2>/dev/null || { cat "$data/berthd.log" >&2; exit 1; }
  sleep 0.1
done

export BERTH_HOST="unix://$run/berth.sock"
export PATH="$top/build/src/cmd:$PATH"
echo "demo.sh: \$ berth run -it python" >&2
set +e
berth run -it python
status=$?
set -e
echo "demo.sh: the container exited with status $status" >&2
exit "$status"
