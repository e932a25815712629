"""netns — a private network namespace for engines that run with real networking, and a
check that the host's own network namespace came out of a benchmark as it went in.

Why: with their default bridge each engine makes a bridge (berth0, docker0, cni-podman0),
firewall rules (nftables tables, iptables chains) and sets net.ipv4.ip_forward.  None of
that may land on the host.  All of it is per network namespace, so each engine's daemon
(and podman's commands, podman having no daemon) runs in a namespace the benchmark made,
and everything the engine made there goes when the namespace does.

How: `ip netns add bench-<random>` (a bind mount at /run/netns/NAME, so the namespace lives
without a process in it), loopback up in it; callers enter it with `nsenter --net=PATH`,
which changes the network namespace alone (never `ip netns exec`, which also gives the
command a mount namespace of its own with /sys remounted, and would hide cgroup mounts from
a container engine).  At the end `ip netns del NAME`: the bridges, veths and rules inside go
with the namespace once no process is left in it (the engines are stopped first).

host_state() snapshots what an engine could change in the host's namespace: the links, the
nftables ruleset (iptables-nft rules are in it), the legacy iptables rules, forwarding and
bridge-netfilter sysctls, and the list of named namespaces.  Read it before and after;
diff() names what changed.

Never: enter the namespace with a mount namespace change, or delete a namespace this module
did not create.
"""
import contextlib
import os
import secrets
import subprocess

SYSCTLS = ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding",
           "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables")


class NetnsError(Exception):
    pass


@contextlib.contextmanager
def private_netns(prefix="bench"):
    """Path (/run/netns/NAME) of a fresh network namespace with loopback up; deleted after."""
    name = "%s-%s" % (prefix, secrets.token_hex(4))
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        raise NetnsError("ip netns add %s: %s" % (name, p.stderr.strip()))
    path = "/run/netns/" + name
    try:
        p = subprocess.run(["nsenter", "--net=" + path, "ip", "link", "set", "lo", "up"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise NetnsError("loopback up in %s: %s" % (name, p.stderr.strip()))
        yield path
    finally:
        p = subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True)
        if p.returncode != 0:
            print("bench: ip netns del %s: %s" % (name, p.stderr.strip()))


def _out(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True)
    except FileNotFoundError:
        return "(%s missing)" % argv[0]
    return p.stdout if p.returncode == 0 else "(%s failed: %s)" % (argv[0], p.stderr.strip())


def _links():
    """Link names, kinds and flags; counters and addresses of queues left out (they move)."""
    out = []
    for line in _out(["ip", "-o", "link", "show"]).splitlines():
        f = line.split()
        if len(f) > 2:
            out.append("%s %s" % (f[1], f[2]))
    return "\n".join(sorted(out))


def host_state():
    """{what: text} of the host namespace's network state (as this process sees it)."""
    st = {"links": _links(), "nft ruleset": _out(["nft", "list", "ruleset"]),
          "iptables-legacy": _out(["iptables-legacy-save"]),
          "named netns": "\n".join(sorted(_out(["ip", "netns", "list"]).splitlines()))}
    for s in SYSCTLS:
        try:
            with open("/proc/sys/" + s) as f:
                st[s.replace("/", ".")] = f.read().strip()
        except OSError:
            st[s.replace("/", ".")] = "(absent)"
    # legacy iptables-save prints a timestamp in comments; keep rules only
    st["iptables-legacy"] = "\n".join(
        l for l in st["iptables-legacy"].splitlines() if not l.startswith("#"))
    return st


SETS = ("links", "named netns")


def diff(before, after):
    """What differs between two host_state() snapshots: for links and named namespaces
    what came and went, for the rest both values."""
    out = []
    for k in before:
        b, a = before[k], after.get(k, "")
        if b == a:
            continue
        if k in SETS:
            bs, as_ = set(b.splitlines()), set(a.splitlines())
            out.append("%s: new %s; gone %s" % (k, sorted(as_ - bs) or "none",
                                                sorted(bs - as_) or "none"))
        else:
            out.append("%s: before %r, after %r" % (k, b[-300:], a[-300:]))
    return out


def links_in(path):
    """Names and kinds of the links in the network namespace at path (ip -d: the kind is
    on the line after the flags), for the record of what an engine made there."""
    p = subprocess.run(["nsenter", "--net=" + path, "ip", "-o", "-d", "link", "show"],
                       capture_output=True, text=True)
    out = []
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        kind = next((k for k in ("bridge", "veth") if " %s " % k in line), "")
        out.append(f[1].rstrip(":").split("@")[0] + (" (%s)" % kind if kind else ""))
    return out


def nft_tables_in(path):
    """`nft list tables` in the network namespace at path, one table a line."""
    p = subprocess.run(["nsenter", "--net=" + path, "nft", "list", "tables"],
                       capture_output=True, text=True)
    return [l.strip() for l in p.stdout.splitlines() if l.strip()]


def pids_in(path):
    """Pids whose network namespace is the one at path (to find stragglers)."""
    try:
        want = os.stat(path)
    except OSError:
        return []
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = os.stat("/proc/%s/ns/net" % d)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
            out.append(int(d))
    return out
