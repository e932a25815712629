#!/bin/sh
# The whole engine inside the test_engine_qemu.py guest: berthd, berth-shim,
# berth-shim-helper, berth-init and the berth CLI start real containers on a
# pure cgroup v2 host (or a pure v1 one: `checks.sh v1`).  Every check prints
# "CHECK <name> OK" or "FAIL: <name>: <detail>"; the host test wants every
# name it knows, so a check that never ran fails too.  Expectations are
# what dockerd with runc does on such a host.
mode=$1
B=berth
log=/tmp/berthd.log
fails=0
pass() { echo "CHECK $1 OK"; }
fail() { echo "FAIL: $1: $2"; fails=$((fails + 1)); }
# eq NAME GOT WANT
eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# has NAME TEXT PATTERN (a shell case pattern)
has() {
	case "$2" in $3) pass "$1" ;; *) fail "$1" "'$2' does not match '$3'" ;; esac
}
v2() { [ "$mode" = v2 ]; }
# a container id, or no container (an error message instead)
is_id() { case "$1" in "" | *[!0-9a-f]*) return 1 ;; esac; [ ${#1} -eq 64 ]; }
# dir ID CONTROLLER: the container's cgroup directory on this host
dir() {
	if ! is_id "$1"; then echo /no-container
	elif v2; then echo "/sys/fs/cgroup/berth/$1"
	else echo "/sys/fs/cgroup/$2/berth/$1"; fi
}
id_of() { $B inspect -f '{{.Id}}' "$1" 2>&1; }
# left ID: cgroup directories of a container still on the host
left() {
	if is_id "$1"; then find /sys/fs/cgroup -type d -name "$1" 2>/dev/null | tr '\n' ' '
	else echo "no container: $1"; fi
}
t0=$(cut -d. -f1 /proc/uptime)
elapsed() { echo $(($(cut -d. -f1 /proc/uptime) - t0)); }

# The daemon in a cgroup of its own on v2, as a service manager would put it.
dpid=
start_daemon() {
	if v2; then
		mkdir -p /sys/fs/cgroup/berthd.service
		sh -c 'echo $$ > /sys/fs/cgroup/berthd.service/cgroup.procs &&
			exec berthd --config-file /etc/berth/daemon.json --data-root /var/lib/berth \
				--exec-root /run/berth -H unix:///run/berth/berth.sock' >>$log 2>&1 &
	else
		berthd --config-file /etc/berth/daemon.json --data-root /var/lib/berth \
			--exec-root /run/berth -H unix:///run/berth/berth.sock >>$log 2>&1 &
	fi
	dpid=$!
	i=0
	while [ $i -lt 300 ]; do
		$B version >/dev/null 2>&1 && return 0
		kill -0 $dpid 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
export BERTH_HOST=unix:///run/berth/berth.sock

if ! start_daemon; then
	fail daemon "berthd did not answer"
else
	pass daemon
fi
out=$($B load -i /guest/busybox.tar 2>&1)
has load "$out" "*busybox:latest*"
echo "NOTE: daemon up and image loaded at $(elapsed) s"

# /info
if v2; then want="2 cgroupfs"; else want="1 cgroupfs"; fi
eq info "$($B info --format '{{.CgroupVersion}} {{.CgroupDriver}}' 2>&1)" "$want"
# swap limits work here (memory.swap.max / memory.memsw.*): info says so, also
# without systemd's init.scope; and the limits a v2 host has not got are off
eq info-features "$($B info --format '{{.SwapLimit}} {{.MemoryLimit}} {{.PidsLimit}} {{.CpuCfsQuota}} {{.OomKillDisable}}' 2>&1)" \
	"$(if v2; then echo "true true true true false"; else echo "true true true true true"; fi)"

# exit codes
out=$($B run --rm busybox true 2>&1)
eq run-true "$?" 0
[ -n "$out" ] && echo "NOTE: run-true said: $out"
$B run --rm busybox sh -c 'exit 7' >/dev/null 2>&1
eq run-exit-7 "$?" 7

# default cgroup namespace: private on v2, host on v1 (dockerd's defaults)
out=$($B run --name cgns busybox cat /proc/self/cgroup 2>&1)
id=$(id_of cgns)
$B rm cgns >/dev/null 2>&1
if v2; then
	eq cgroupns-default "$out" "0::/"
else
	has cgroupns-default "$out" "*[0-9]:memory:/berth/$id*"
fi

# the other cgroup namespace on request, and what /sys/fs/cgroup shows
# in it: on v2 with the host's namespace the whole tree, as dockerd mounts it,
# so /sys/fs/cgroup plus the path in /proc/self/cgroup is the container's;
# on v1 with a namespace of its own, its own cgroup in every hierarchy
if v2; then
	out=$($B run --name cgns2 --cgroupns host -m 32m busybox sh -c \
		'p=$(cut -d: -f3 /proc/self/cgroup); echo $p $(cat /sys/fs/cgroup$p/memory.max)' 2>&1)
else
	out=$($B run --name cgns2 --cgroupns private -m 32m busybox sh -c \
		'grep :memory: /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes' 2>&1)
fi
id=$(id_of cgns2)
$B rm cgns2 >/dev/null 2>&1
if v2; then
	eq cgroupns-host "$out" "/berth/$id 33554432"
else
	has cgroupns-private "$out" "[0-9]*:memory:/
33554432"
fi

# --cgroup-parent puts the container there
out=$($B run --name cgp --cgroup-parent /custom --cgroupns host busybox cat /proc/self/cgroup 2>&1)
id=$(id_of cgp)
$B rm cgp >/dev/null 2>&1
if v2; then
	eq cgroup-parent "$out" "0::/custom/$id"
else
	has cgroup-parent "$out" "*[0-9]:memory:/custom/$id*"
fi
eq cgroup-parent-removed "$(left "$id")" ""

# --init: berth-init, found beside berthd, is the container's pid 1
out=$($B run --rm --init busybox sh -c 'echo $(cat /proc/1/comm) $(cat /proc/$$/comm) $$' 2>&1)
has init "$out" "docker-init sh [2-9]"

# limits, read inside the container
lim="-m 64m --memory-reservation 32m --pids-limit 20 --cpus 0.5 --cpu-shares 512 --cpuset-cpus 0"
if v2; then
	out=$($B run --rm $lim busybox sh -c 'cd /sys/fs/cgroup && echo $(cat memory.max) \
		$(cat memory.swap.max) $(cat memory.low) $(cat pids.max) $(cat cpu.max) \
		$(cat cpu.weight) $(cat cpuset.cpus)' 2>&1)
	# swap: docker makes --memory-swap twice -m, so swap.max is -m again; shares 512 ->
	# weight 20 by runc's 1 + (shares - 2) * 9999 / 262142 (runc 1.3.2 and crun 1.23
	# changed it to a log curve; dockerd 20.10 to 28 with runc before that give this)
	eq limits-inside "$out" "67108864 67108864 33554432 20 50000 100000 20 0"
else
	out=$($B run --rm $lim busybox sh -c 'cd /sys/fs/cgroup && echo \
		$(cat memory/memory.limit_in_bytes) $(cat memory/memory.memsw.limit_in_bytes) \
		$(cat memory/memory.soft_limit_in_bytes) $(cat pids/pids.max) \
		$(cat cpu/cpu.cfs_quota_us) $(cat cpu/cpu.cfs_period_us) $(cat cpu,cpuacct/cpu.shares) \
		$(cat cpuset/cpuset.cpus)' 2>&1)
	eq limits-inside "$out" "67108864 134217728 33554432 20 50000 100000 512 0"
fi

# and on the host, under the daemon's cgroup parent
id=$($B run -d --name lim $lim --device-read-bps /dev/ram0:1mb busybox sleep 1000 2>&1)
if v2; then
	d=$(dir "$id")
	out="$(cat $d/memory.max) $(cat $d/memory.swap.max) $(cat $d/memory.low) $(cat $d/pids.max)"
	out="$out $(cat $d/cpu.max) $(cat $d/cpu.weight) $(cat $d/cpuset.cpus) $(cat $d/io.max)"
	eq limits-host "$out" "67108864 67108864 33554432 20 50000 100000 20 0 1:0 rbps=1048576 wbps=max riops=max wiops=max"
	# what a container sees it may use: the controllers docker users read
	out=$($B exec lim cat /sys/fs/cgroup/cgroup.controllers 2>&1)
	has controllers-inside "$out" "*cpuset*cpu*io*memory*pids*"
else
	out="$(cat $(dir "$id" memory)/memory.limit_in_bytes) $(cat $(dir "$id" pids)/pids.max)"
	out="$out $(cat $(dir "$id" cpu,cpuacct)/cpu.cfs_quota_us) $(cat $(dir "$id" cpu,cpuacct)/cpu.shares)"
	out="$out $(cat $(dir "$id" cpuset)/cpuset.cpus) $(cat $(dir "$id" blkio)/blkio.throttle.read_bps_device)"
	eq limits-host "$out" "67108864 20 50000 512 0 1:0 1048576"
	out=$($B exec lim ls /sys/fs/cgroup 2>&1 | tr '\n' ' ')
	has controllers-inside "$out" "*blkio cpu cpu,cpuacct cpuacct cpuset devices freezer*memory*pids*"
fi
$B rm -f lim >/dev/null 2>&1
eq limits-removed "$(left "$id")" ""

# the pids limit is enforced
out=$($B run --rm --pids-limit 5 busybox sh -c \
	'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait' 2>&1)
has pids-enforced "$out" "*can't fork*"

# /sys/fs/cgroup is read-only in a default container
out=$($B run --rm busybox sh -c 'mkdir /sys/fs/cgroup/x; echo rc=$?' 2>&1)
has cgroupfs-readonly "$out" "*Read-only file system*rc=1*"

# devices: a default container may make a block node but not open it
out=$($B run --rm busybox sh -c 'mknod /tmp/ram0 b 1 0 && head -c 1 /tmp/ram0 >/dev/null; echo rc=$?' 2>&1)
has devices-denied "$out" "*/tmp/ram0: Operation not permitted*rc=1"
# control: the same with a rule that allows it
out=$($B run --rm --device-cgroup-rule 'b 1:0 r' busybox sh -c \
	'mknod /tmp/ram0 b 1 0 && head -c 1 /tmp/ram0 | wc -c; echo rc=$?' 2>&1)
has devices-rule "$out" "1
rc=0"
out=$($B run --rm busybox sh -c 'echo x >/dev/null && head -c 4 /dev/zero | wc -c &&
	head -c 4 /dev/urandom | wc -c; echo rc=$?' 2>&1)
has devices-standard "$out" "4
4
rc=0"
out=$($B run --rm --device /dev/ram0 busybox sh -c 'head -c 1 /dev/ram0 | wc -c; echo rc=$?' 2>&1)
has devices-device "$out" "1
rc=0"

# a detached container: stats, exec, top, pause, stop, rm ("s1": dockerd
# refuses one-character names)
id=$($B run -d --name s1 -m 64m busybox sleep 1000 2>&1)
out=$($B stats --no-stream --format '{{.PIDs}} {{.MemUsage}}' s1 2>&1)
has stats "$out" "1 *[0-9]*B / 64MiB"
out=$($B exec s1 cat /proc/self/cgroup 2>&1)
if v2; then
	eq exec-cgroup "$out" "0::/"
else
	has exec-cgroup "$out" "*[0-9]:memory:/berth/$id*"
fi
out=$($B top s1 2>&1)
has top "$out" "*sleep 1000*"
$B pause s1 >/dev/null 2>&1
out=$($B inspect -f '{{.State.Status}} {{.State.Paused}}' s1 2>&1)
eq pause-inspect "$out" "paused true"
if v2; then
	d=$(dir "$id")
	out="$(cat $d/cgroup.freeze) $(grep frozen $d/cgroup.events)"
	eq pause-cgroup "$out" "1 frozen 1"
else
	eq pause-cgroup "$(cat $(dir "$id" freezer)/freezer.state)" FROZEN
fi
out=$($B exec s1 true 2>&1)
has exec-paused "$out" "*is paused, unpause the container before exec*"
$B unpause s1 >/dev/null 2>&1
out=$($B inspect -f '{{.State.Status}} {{.State.Paused}}' s1 2>&1)
eq unpause-inspect "$out" "running false"
if v2; then
	out="$(cat $d/cgroup.freeze) $(grep frozen $d/cgroup.events)"
	eq unpause-cgroup "$out" "0 frozen 0"
else
	eq unpause-cgroup "$(cat $(dir "$id" freezer)/freezer.state)" THAWED
fi
$B stop -t 1 s1 >/dev/null 2>&1
eq stop "$?" 0
$B rm s1 >/dev/null 2>&1
eq rm "$?" 0
eq rm-cgroup "$(left "$id")" ""

# the OOM killer
$B run --name oom -m 16m --shm-size 256m busybox sh -c \
	'dd if=/dev/zero of=/dev/shm/x bs=1M count=200' >/dev/null 2>&1
eq oom-exit "$?" 137
eq oom-killed "$($B inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' oom 2>&1)" "true 137"
$B rm oom >/dev/null 2>&1

# kill of a paused container: it ends (the v1 freezer holds signals until
# thawed) and kill returns once it has, so rm without -f works at once
id=$($B run -d --name k1 busybox sleep 1000 2>&1)
$B pause k1 >/dev/null 2>&1
$B kill k1 >/dev/null 2>&1
eq kill-paused "$($B inspect -f '{{.State.Status}} {{.State.ExitCode}}' k1 2>&1)" "exited 137"
$B rm k1 >/dev/null 2>&1
eq kill-rm "$? $(left "$id")" "0 "

# nested cgroups in a privileged container (docker-in-docker, kind, systemd)
if v2; then
	out=$($B run --rm --privileged busybox sh -c 'cd /sys/fs/cgroup && mkdir init &&
		echo $$ > init/cgroup.procs && echo "+memory +pids" > cgroup.subtree_control &&
		mkdir child && echo $(cat child/cgroup.controllers) $(cat /proc/self/cgroup)' 2>&1)
	eq nested "$out" "memory pids 0::/init"
else
	out=$($B run --rm --privileged busybox sh -c 'cd /sys/fs/cgroup/memory && mkdir sub &&
		echo $$ > sub/cgroup.procs && grep :memory: /proc/self/cgroup' 2>&1)
	has nested "$out" "*:memory:/berth/*/sub"
fi

# live restore: berthd killed, started again, the container still served
id=$($B run -d --name s2 busybox sleep 1000 2>&1)
kill -9 $dpid
wait $dpid 2>/dev/null
if start_daemon; then pass daemon-restart; else fail daemon-restart "berthd did not answer"; fi
eq restore-status "$($B inspect -f '{{.State.Status}}' s2 2>&1)" running
$B exec s2 true >/dev/null 2>&1
eq restore-exec "$?" 0
$B stop -t 1 s2 >/dev/null 2>&1
eq restore-stop "$?" 0
eq restore-stopped "$($B inspect -f '{{.State.Status}}' s2 2>&1)" exited
$B rm s2 >/dev/null 2>&1
eq restore-rm-cgroup "$(left "$id")" ""

# nothing of any container is left: on v2 the root holds the daemon's
# cgroup and at most an empty parent; on v1 every parent is empty
if v2; then
	out=$(find /sys/fs/cgroup -mindepth 1 -type d | grep -v '^/sys/fs/cgroup/berthd.service$' |
		grep -v '^/sys/fs/cgroup/berth$' | tr '\n' ' ')
else
	out=$(find /sys/fs/cgroup/*/ -mindepth 1 -type d 2>&1 | grep -v '/berth$' | tr '\n' ' ')
fi
eq no-leaks "$out" ""

echo "NOTE: checks took $(elapsed) s"
if [ $fails -ne 0 ]; then
	echo "NOTE: berthd log tail:"
	tail -n 40 $log | sed 's/^/berthd: /'
fi
kill $dpid 2>/dev/null
echo "ENGINE CHECKS DONE fails=$fails"
