#!/usr/bin/python3
"""registry — a throwaway CNCF Distribution registry on 127.0.0.1, for benchmarks and demos.

How: the integration tests' Registry fixture (tests/integration/test_registry.py) does
the work: /usr/bin/docker-registry with their config layout (filesystem storage and
delete enabled in a temp dir, plain HTTP, a free loopback port).  Two ways to use it:

  from a program:  with local_registry() as host: ...      (stopped and removed after)
  from a shell:    scripts/registry.sh start  -> prints HOST:PORT and the state dir
                   scripts/registry.sh stop DIR

`start` leaves the registry running (its log in DIR) and records its pid in
DIR/registry.pid; `stop` kills exactly that pid (after checking it is still that
registry) and removes DIR.  It never listens anywhere but loopback.
"""
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from test_registry import REGISTRY_BIN, Registry  # noqa: E402


@contextlib.contextmanager
def local_registry(parent="/tmp"):
    """Yields "127.0.0.1:PORT" of a fresh registry; stops it and removes its storage after."""
    work = tempfile.mkdtemp(prefix="berth-registry-", dir=parent)
    reg = None
    try:
        reg = Registry(work)
        yield reg.host
    finally:
        if reg is not None:
            reg.stop()
        shutil.rmtree(work, ignore_errors=True)


def _is_registry(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0] == REGISTRY_BIN.encode()
    except OSError:
        return False


def cmd_start():
    work = tempfile.mkdtemp(prefix="berth-registry-", dir="/tmp")
    try:
        reg = Registry(work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    with open(os.path.join(work, "registry.pid"), "w") as f:
        f.write("%d\n" % reg.proc.pid)
    print("%s %s" % (reg.host, work))


def cmd_stop(work):
    pidfile = os.path.join(work, "registry.pid")
    try:
        with open(pidfile) as f:
            pid = int(f.read())
    except (OSError, ValueError) as e:
        sys.exit("registry.sh: %s is not a registry started by registry.sh start: %s" % (work, e))
    if _is_registry(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 10
        while _is_registry(pid) and time.time() < deadline:
            time.sleep(0.05)
        if _is_registry(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(work, ignore_errors=True)


def main():
    args = sys.argv[1:]
    if args == ["start"]:
        cmd_start()
    elif len(args) == 2 and args[0] == "stop":
        cmd_stop(args[1])
    else:
        sys.exit("usage: scripts/registry.sh start | scripts/registry.sh stop DIR")


if __name__ == "__main__":
    main()
