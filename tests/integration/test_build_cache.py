"""The build cache and the images a build leaves (issue 11 §2, §3, §5): what a user of
`docker build` relies on beyond one build's result.

- a re-build with nothing changed reuses every step, runs no container (events say so),
  and gives the same image, also after berthd restarts;
- a re-build after one source file changed re-runs from the first step that reads it;
- intermediate images are hidden from `images`, shown by `images -a`, counted as build
  cache by `system df`, removed with the image they lead to (`rmi`), and by
  `builder prune`;
- docker-py's images.build and docker-compose's `build:` drive berthd's builder.

A berthd of the test's own with busybox loaded (container_util); everything is removed.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from container_util import start_env, stop_env
from test_daemon import BERTH


@pytest.fixture
def env():
    top = tempfile.mkdtemp(prefix="berth-test-build-", dir="/tmp")
    os.chmod(top, 0o755)
    e = start_env(top)
    try:
        yield e
    finally:
        try:
            stop_env(e)
        finally:
            shutil.rmtree(top, ignore_errors=True)


def berth(e, *args, input=None, check=True, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST", "DOCKER_HOST")}
    env["BERTH_NO_AUTOSTART"] = "1"
    p = subprocess.run([BERTH, "-H", e.host, *args], capture_output=True, text=True, env=env,
                       input=input, timeout=timeout)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr, e.d.logtext()[-3000:])
    return p


def write(d, files):
    for name, text in files.items():
        path = os.path.join(d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


APP = """FROM busybox
ENV APP=/app
WORKDIR /app
COPY lib/ /app/lib/
RUN cat /app/lib/* > /app/all
COPY main.txt /app/
RUN wc -c /app/main.txt > /app/size
CMD ["cat", "/app/all", "/app/size"]
"""


def steps(out):
    """[(step text, cached?)] of a classic build's output."""
    res, cur = [], None
    for line in out.splitlines():
        if line.startswith("Step "):
            cur = line.split(" : ", 1)[1]
            res.append([cur, False])
        elif line == " ---> Using cache" and res:
            res[-1][1] = True
    return [tuple(s) for s in res]


def image_id(out):
    return [l for l in out.splitlines() if l.startswith("Successfully built ")][-1].split()[-1]


def container_events(e, since, until):
    out = berth(e, "events", "--since", str(since), "--until", str(until), "--filter",
                "type=container", "--format", "{{.Action}}").stdout
    return out.split()


def test_rebuild_reuses_every_step_without_containers_also_after_restart(env, tmp_path):
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": APP, "lib/a": "a\n", "lib/b": "b\n", "main.txt": "main\n"})
    first = berth(env, "build", "-t", "app:1", ctx).stdout
    assert not any(cached for _, cached in steps(first)), first
    assert berth(env, "run", "--rm", "app:1").stdout == "a\nb\n5 /app/main.txt\n"

    for round_ in ("same daemon", "after a restart"):
        if round_ == "after a restart":
            assert env.d.stop() == 0
            env.d.start()
        time.sleep(1.1)  # events are asked for by the second: the run above is before t0
        t0 = int(time.time())
        again = berth(env, "build", "-t", "app:1", ctx).stdout
        t1 = int(time.time()) + 1
        # every step after FROM is a cache hit, and the image is the same
        assert [c for _, c in steps(again)][1:] == [True] * 7, (round_, again)
        assert image_id(again) == image_id(first), round_
        assert container_events(env, t0, t1) == [], round_


def test_one_changed_file_reruns_from_the_step_that_reads_it(env, tmp_path):
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": APP, "lib/a": "a\n", "lib/b": "b\n", "main.txt": "main\n"})
    berth(env, "build", "-t", "app:1", ctx)
    write(ctx, {"main.txt": "main changed\n"})
    out = berth(env, "build", "-t", "app:1", ctx).stdout
    got = steps(out)
    # FROM, ENV, WORKDIR, COPY lib/, RUN cached; COPY main.txt and the rest re-run
    assert [c for _, c in got] == [False, True, True, True, True, False, False, False], out
    assert berth(env, "run", "--rm", "app:1").stdout == "a\nb\n13 /app/main.txt\n"
    # a touch without a change in content reuses the cache (contents, not times, count)
    os.utime(os.path.join(ctx, "main.txt"), (1, 1))
    out = berth(env, "build", "-t", "app:1", ctx).stdout
    assert [c for _, c in steps(out)][1:] == [True] * 7, out


def test_intermediate_images_listing_df_rmi_and_prune(env, tmp_path):
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": APP, "lib/a": "a\n", "lib/b": "b\n", "main.txt": "main\n"})
    berth(env, "build", "-t", "app:1", ctx)
    listed = berth(env, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(listed) == ["app:1", "busybox:latest"]
    every = berth(env, "images", "-a", "-q").stdout.split()
    assert len(every) == 2 + 6  # ENV, WORKDIR, COPY, RUN, COPY, RUN below CMD's image
    assert berth(env, "images", "-q", "--filter", "dangling=true").stdout == ""
    df = json.loads(berth(env, "system", "df", "--format", "{{json .}}").stdout.splitlines()[-1])
    assert df["Type"] == "Build Cache" and df["TotalCount"] == "6", df

    # builder prune forgets the steps and removes the intermediate images; app:1 stays
    out = berth(env, "builder", "prune", "-f").stdout
    assert out.startswith("Deleted build cache objects:\n"), out
    assert len(berth(env, "images", "-a", "-q").stdout.split()) == 2
    assert berth(env, "run", "--rm", "app:1").stdout == "a\nb\n5 /app/main.txt\n"
    # the next build runs its steps again (only the last one's image, app:1, is named)
    out = berth(env, "build", "-t", "app:2", ctx).stdout
    assert not any(c for _, c in steps(out)[1:-1]), out

    # rmi takes the image's unnamed parents with it, as docker's does
    before = set(berth(env, "images", "-a", "-q").stdout.split())
    out = berth(env, "rmi", "app:2").stdout
    deleted = [l for l in out.splitlines() if l.startswith("Deleted: ")]
    assert len(deleted) == 7, out
    assert set(berth(env, "images", "-a", "-q").stdout.split()) == before - {
        d.split("sha256:")[1][:12] for d in deleted}


def test_failed_step_keeps_the_cache_up_to_it(env, tmp_path):
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo one > /one\nRUN exit 7\n"})
    p = berth(env, "build", ctx, check=False)
    assert p.returncode == 7, (p.stdout, p.stderr)
    assert "The command '/bin/sh -c exit 7' returned a non-zero code: 7" in p.stderr
    assert berth(env, "ps", "-aq").stdout == ""  # no intermediate container left
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo one > /one\nRUN cat /one\n"})
    out = berth(env, "build", ctx).stdout
    assert [c for _, c in steps(out)] == [False, True, False], out


def test_docker_py_images_build(env, tmp_path):
    docker = pytest.importorskip("docker")
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": "FROM busybox\nARG WHO=nobody\nRUN echo hi $WHO > /hi\n"
                              "CMD [\"cat\", \"/hi\"]\n"})
    client = docker.DockerClient(base_url=env.host, version="1.41")
    try:
        img, logs = client.images.build(path=ctx, tag="pybuilt:1", buildargs={"WHO": "py"})
        text = "".join(x.get("stream", "") for x in logs)
        assert "Successfully tagged pybuilt:1" in text, text
        assert "pybuilt:1" in img.tags
        out = client.containers.run("pybuilt:1", remove=True)
        assert out == b"hi py\n"
        with pytest.raises(docker.errors.BuildError) as exc:
            client.images.build(fileobj=__import__("io").BytesIO(b"FROM busybox\nRUN exit 4\n"))
        assert "returned a non-zero code: 4" in str(exc.value)
    finally:
        client.close()


def test_docker_compose_build_section(env, tmp_path):
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.fail("docker-compose is missing: scripts/deps.sh installs Debian's docker-compose")
    d = str(tmp_path)
    write(d, {"docker-compose.yml": "version: \"2.4\"\nservices:\n  app:\n    build:\n"
                                    "      context: ./app\n      args:\n        MSG: composed\n"
                                    "    image: composed:1\n    network_mode: none\n",
              "app/Dockerfile": "FROM busybox\nARG MSG\nRUN echo $MSG > /msg\n"
                                "CMD [\"cat\", \"/msg\"]\n"})
    e = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST",)}
    e.update(DOCKER_HOST=env.host, COMPOSE_PROJECT_NAME="bt%d" % os.getpid())
    p = subprocess.run([compose, "build"], cwd=d, env=e, capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "Successfully tagged composed:1" in p.stdout + p.stderr
    assert berth(env, "run", "--rm", "composed:1").stdout == "composed\n"


def test_run_mounts_cache_bind_tmpfs(env, tmp_path):
    """BuildKit's RUN --mount on berthd: a cache mount outlives builds (and goes with builder
    prune), a bind mount reads the context without copying it into the image (its contents
    count in the cache key), a tmpfs mount leaves nothing in the layer."""
    ctx = str(tmp_path)
    df = ("FROM busybox\n"
          "RUN --mount=type=cache,target=/cache echo run >> /cache/log && "
          "cat /cache/log > /seen\n"
          "RUN --mount=type=bind,source=data,target=/in cat /in/x > /copied && "
          "! touch /in/y 2>/dev/null\n"
          "RUN --mount=type=bind,source=data,target=/rw,rw touch /rw/z && test -e /rw/z\n"
          "RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && test -e /scratch/t\n"
          "CMD [\"sh\", \"-c\", \"cat /seen /copied; ls /in /rw /scratch 2>&1 | wc -l\"]\n")
    write(ctx, {"Dockerfile": df, "data/x": "from the context\n"})
    berth(env, "build", "-t", "mounts:1", ctx)
    assert berth(env, "run", "--rm", "mounts:1").stdout.splitlines()[:2] == [
        "run", "from the context"]
    # the cache mount keeps what the first build wrote
    berth(env, "build", "--no-cache", "-t", "mounts:1", ctx)
    assert berth(env, "run", "--rm", "mounts:1").stdout.splitlines()[:3] == [
        "run", "run", "from the context"]
    # nothing of the mounts is in the image, and the context is untouched by the rw bind
    out = berth(env, "run", "--rm", "mounts:1", "sh", "-c",
                "ls -d /in/x /rw/z /scratch/t /cache/log 2>/dev/null | wc -l").stdout
    assert out.strip() == "0"
    assert sorted(os.listdir(os.path.join(ctx, "data"))) == ["x"]
    # a change to the bound file re-runs that step, not the cache mount's
    write(ctx, {"data/x": "changed\n"})
    out = berth(env, "build", "-t", "mounts:1", ctx).stdout
    assert [c for _, c in steps(out)][:4] == [False, True, False, False], out
    assert "changed" in berth(env, "run", "--rm", "mounts:1").stdout
    # builder prune empties the cache mount
    out = berth(env, "builder", "prune", "-f").stdout
    assert "cache-mount-1" in out, out
    berth(env, "build", "--no-cache", "-t", "mounts:1", ctx)
    assert berth(env, "run", "--rm", "mounts:1").stdout.splitlines()[0] == "run"
    # secrets have no way in through the classic API: a clear error
    write(ctx, {"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=x cat /run/secrets/x\n"})
    p = berth(env, "build", ctx, check=False)
    assert p.returncode != 0 and "RUN --mount=type=secret" in p.stderr, (p.stdout, p.stderr)


STAGES = """FROM busybox AS a
RUN cut -d" " -f1 /proc/uptime > /a.start && sleep 1 && echo a > /a && cut -d" " -f1 /proc/uptime > /a.end
FROM busybox AS unused
RUN exit 9
FROM busybox AS b
RUN cut -d" " -f1 /proc/uptime > /b.start && sleep 1 && echo b > /b && cut -d" " -f1 /proc/uptime > /b.end
FROM busybox
COPY --from=a /a /a.start /a.end /out/
COPY --from=b /b /b.start /b.end /out/
CMD ["sh", "-c", "cat /out/a /out/b"]
"""


def test_stages_the_target_needs_build_in_parallel(env, tmp_path):
    """BuildKit's behaviour on the classic API: a stage the target does not need is not built
    (its failing RUN never runs), independent stages run at the same time, and the output
    still reads stage after stage with steps numbered in order."""
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": STAGES})
    out = berth(env, "build", "-t", "stages:1", ctx).stdout
    assert "exit 9" not in out, out
    numbers = [int(l.split()[1].split("/")[0]) for l in out.splitlines() if l.startswith("Step ")]
    total = {l.split()[1].split("/")[1] for l in out.splitlines() if l.startswith("Step ")}
    assert numbers == list(range(1, 9)) and total == {"8"}, out
    # each stage's lines stay together: a's RUN output before b's FROM
    assert out.index("FROM busybox AS a") < out.index("FROM busybox AS b")
    assert berth(env, "run", "--rm", "stages:1").stdout == "a\nb\n"
    times = {k: float(berth(env, "run", "--rm", "stages:1", "cat", "/out/" + k).stdout)
             for k in ("a.start", "a.end", "b.start", "b.end")}
    # the two RUNs overlapped in time
    assert times["a.start"] < times["b.end"] and times["b.start"] < times["a.end"], times
    # --target builds what that stage needs only
    out = berth(env, "build", "--target", "b", ctx).stdout
    assert [l for l in out.splitlines() if l.startswith("Step ")] == [
        "Step 1/2 : FROM busybox AS b",
        'Step 2/2 : RUN cut -d" " -f1 /proc/uptime > /b.start && sleep 1 && echo b > /b && '
        'cut -d" " -f1 /proc/uptime > /b.end'], out


def test_a_failing_stage_stops_the_build_with_its_error(env, tmp_path):
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": "FROM busybox AS slow\nRUN sleep 1\nRUN echo never-shown\n"
                              "FROM busybox AS bad\nRUN exit 5\n"
                              "FROM busybox\nCOPY --from=slow /bin/sh /x\nCOPY --from=bad /bin/sh /y\n"})
    p = berth(env, "build", "--no-cache", ctx, check=False)
    assert p.returncode == 5, (p.stdout, p.stderr)
    assert "The command '/bin/sh -c exit 5' returned a non-zero code: 5" in p.stderr
    # the slow stage stopped at its next step; the final stage never started
    assert "never-shown" not in p.stdout and "COPY --from" not in p.stdout, p.stdout
    assert berth(env, "ps", "-aq").stdout == ""


def test_cache_from_an_image_without_the_local_cache(env, tmp_path):
    """--cache-from as dockerd's: an image (here one whose build cache was pruned, as a pulled
    one has none) gives its steps back when their history matches, layers reused, and the
    final step is that image itself."""
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": APP, "lib/a": "a\n", "lib/b": "b\n", "main.txt": "main\n"})
    first = berth(env, "build", "-t", "app:1", ctx).stdout
    berth(env, "builder", "prune", "-a", "-f")
    assert len(berth(env, "images", "-a", "-q").stdout.split()) == 2  # busybox and app:1
    out = berth(env, "build", "--cache-from", "app:1", "-t", "app:2", ctx).stdout
    assert [c for _, c in steps(out)][1:] == [True] * 7, out
    assert image_id(out) == image_id(first)
    assert berth(env, "run", "--rm", "app:2").stdout == "a\nb\n5 /app/main.txt\n"
    # a changed file: the steps before it still come from app:1, the rest run
    write(ctx, {"main.txt": "changed\n"})
    berth(env, "builder", "prune", "-a", "-f")
    out = berth(env, "build", "--cache-from", "app:1", "-t", "app:3", ctx).stdout
    assert [c for _, c in steps(out)] == [False, True, True, True, True, False, False, False], out
    assert berth(env, "run", "--rm", "app:3").stdout == "a\nb\n8 /app/main.txt\n"
    # without --cache-from nothing is reused once the cache is gone
    berth(env, "builder", "prune", "-a", "-f")
    out = berth(env, "build", "-t", "app:4", ctx).stdout
    assert not any(c for _, c in steps(out)), out


def test_add_from_a_url_keeps_its_last_modified_time(env, tmp_path):
    """ADD <url>: fetched by berthd (here from a server of the test's own on loopback), named
    after the URL's last element, with the server's Last-Modified as its time; a URL's
    contents are its cache key, so a change on the server re-runs the step."""
    import functools
    import http.server
    import threading
    site = tmp_path / "site"
    site.mkdir()
    (site / "notes.txt").write_text("served\n")
    os.utime(site / "notes.txt", (1500000000, 1500000000))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/notes.txt" % srv.server_address[1]
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM busybox\nADD %s /dl/\nADD %s /named.txt\n"
                                        % (url, url))
        berth(env, "build", "-t", "fetched:1", str(ctx))
        out = berth(env, "run", "--rm", "fetched:1", "sh", "-c",
                    "cat /dl/notes.txt /named.txt; stat -c %Y /dl/notes.txt").stdout
        assert out == "served\nserved\n1500000000\n", out
        again = berth(env, "build", "-t", "fetched:1", str(ctx)).stdout
        assert [c for _, c in steps(again)] == [False, True, True], again
        (site / "notes.txt").write_text("changed\n")
        again = berth(env, "build", "-t", "fetched:1", str(ctx)).stdout
        assert [c for _, c in steps(again)] == [False, False, False], again
        # a URL that answers 404 fails the step with the status
        (ctx / "Dockerfile").write_text("FROM busybox\nADD %s-missing /x\n" % url)
        p = berth(env, "build", str(ctx), check=False)
        assert p.returncode != 0 and "404" in p.stderr, (p.stdout, p.stderr)
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_build_whose_client_leaves_stops_its_step(env, tmp_path):
    """^C on `berth build` (the client gone) kills the running RUN's container, as dockerd
    does, and the build leaves no container behind."""
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": "FROM busybox\nRUN sleep 60\n"})
    env_ = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST", "DOCKER_HOST")}
    env_["BERTH_NO_AUTOSTART"] = "1"
    p = subprocess.Popen([BERTH, "-H", env.host, "build", "--no-cache", ctx], env=env_,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not berth(env, "ps", "-q").stdout.strip():
            time.sleep(0.1)
        assert berth(env, "ps", "-q").stdout.strip(), "the RUN never started"
    finally:
        p.kill()
        p.wait()
    deadline = time.time() + 15
    while time.time() < deadline and berth(env, "ps", "-aq").stdout.strip():
        time.sleep(0.2)
    assert berth(env, "ps", "-aq").stdout == "", "the step's container outlived its client"


def test_run_network_and_security_flags(env, tmp_path):
    """BuildKit's RUN --network=none|host picks the step's network; --security=insecure is
    refused with a clear error (berth grants no entitlements)."""
    ctx = str(tmp_path)
    host_links = len(os.listdir("/sys/class/net"))
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN --network=none ls /sys/class/net | wc -l > /none\n"
                              "RUN --network=host ls /sys/class/net | wc -l > /host\n"
                              "CMD [\"cat\", \"/none\", \"/host\"]\n"})
    berth(env, "build", "-t", "nets:1", ctx)
    assert berth(env, "run", "--rm", "nets:1").stdout.split() == ["1", str(host_links)]
    write(ctx, {"Dockerfile": "FROM busybox\nRUN --security=insecure true\n"})
    p = berth(env, "build", ctx, check=False)
    assert p.returncode != 0 and "security.insecure" in p.stderr, (p.stdout, p.stderr)


def test_platform_args_and_the_syntax_directive(env, tmp_path):
    """BuildKit's automatic platform ARGs (FROM --platform=$BUILDPLATFORM, ARG TARGETARCH in a
    stage), and a `# syntax=` directive ignored with a note."""
    ctx = str(tmp_path)
    write(ctx, {"Dockerfile": "# syntax=docker/dockerfile:1\n"
                              "ARG BASE=busybox\n"
                              "FROM --platform=$BUILDPLATFORM $BASE\n"
                              "ARG TARGETARCH\nARG BUILDPLATFORM\nARG TARGETOS=plan9\n"
                              "RUN echo \"$TARGETARCH $BUILDPLATFORM $TARGETOS\" > /p\n"
                              "CMD [\"cat\", \"/p\"]\n"})
    out = berth(env, "build", "-t", "plat:1", ctx).stdout
    assert "Note: the syntax directive (docker/dockerfile:1) is ignored" in out, out
    # the automatic values are set as build args are: over a default
    assert berth(env, "run", "--rm", "plat:1").stdout == "amd64 linux/amd64 linux\n"
