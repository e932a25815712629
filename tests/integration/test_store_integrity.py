"""The store against other processes: berth.db read and written by a user's
`sqlite3` while berthd works, a second daemon pointed at the same roots, and a
store found damaged at start (issue 7 §1).

SQLite coordinates processes with POSIX record locks, which belong to the
process: if berthd ever closes a descriptor of berth.db outside SQLite, it
loses its locks, the next outside `sqlite3` believes it is the last user,
checkpoints the WAL and deletes it under berthd, and berthd's later writes go
to a deleted file — lost, and the database damaged.  Each step below checks
the lock is still there (/proc/locks), that an outside reader sees berthd's
latest write, and that the file passes `PRAGMA integrity_check`.

Every daemon, registry and temp dir made here is removed.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import threading
import time

import pytest

from store_check import check_store, wait_settled
from test_daemon import Daemon, UnixHTTPConnection, berth, tmproot  # noqa: F401
from test_image_load import docker20_archive
from test_registry import build_image, http_push, registries, regwork  # noqa: F401


def held_locks(pid, path):
    """Lines of /proc/locks held by pid on path's inode."""
    st = os.stat(path)
    dev = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    out = []
    with open("/proc/locks") as f:
        for line in f:
            parts = line.split()
            # "1: POSIX  ADVISORY  READ 1234 fe:00:5678 1073741826 1073742335"
            if len(parts) >= 6 and parts[4] == str(pid) and parts[5] == dev:
                out.append(line.strip())
    return out


def sqlite_cli(db, sql):
    """The sqlite3 shell, as a user runs it: opens, runs, closes (the last close
    checkpoints and deletes the WAL when it believes nobody else has the file)."""
    # A busy timeout, as any script sharing a database sets: another reader's
    # close briefly holds SQLite's PENDING lock while it checks whether it is
    # the last user, and a shell without one fails at that instant ("database is
    # locked" in prepare, seen once in CI with this file's reader threads).
    # That is SQLite between two outside readers, not berthd.
    p = subprocess.run(["sqlite3", "-cmd", ".timeout 10000", db, sql],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def integrity(db):
    return sqlite_cli(db, "PRAGMA integrity_check")


class Store:
    def __init__(self, root, reg, img):
        self.d = Daemon(root)
        self.reg = reg
        self.img = img
        self.ref = "%s/tests/busybox:v1" % reg.host
        self.db = os.path.join(self.d.data, "berth.db")

    def berth(self, *args, **kw):
        p = berth(*args, host="unix://" + self.d.sock, **kw)
        return p

    def ok(self, *args, **kw):
        p = self.berth(*args, **kw)
        assert p.returncode == 0, (args, p.stdout, p.stderr, self.d.logtext()[-3000:])
        return p.stdout

    def check(self, what):
        """After each operation: berthd still holds its lock, the outside sees its
        writes, the file is sound."""
        assert held_locks(self.d.proc.pid, self.db), "berthd lost its lock on berth.db after " + what
        assert integrity(self.db) == "ok", what


@pytest.fixture
def store(tmproot, regwork, registries):  # noqa: F811
    reg = registries(regwork)
    img = build_image()
    http_push("http://" + reg.host, "tests/busybox", "v1", img)
    s = Store(tmproot, reg, img)
    s.d.start()
    yield s
    try:
        assert s.d.stop() == 0, s.d.logtext()
    finally:
        s.d.kill()


def tags_outside(db):
    return sqlite_cli(db, "SELECT name FROM tags ORDER BY name").splitlines()


def test_outside_sqlite3_reader_and_writer_never_damage_the_store(store, tmproot):
    s = store
    pid = s.d.proc.pid
    assert held_locks(pid, s.db), "no lock right after start"
    archive = os.path.join(tmproot, "saved.tar")
    steps = [
        ("pull", ["pull", s.ref]),
        ("tag", ["tag", s.ref, "local/copy:one"]),
        ("save", ["save", "-o", archive, "local/copy:one"]),
        ("rmi", ["rmi", "local/copy:one", s.ref]),
        ("load", ["load", "-i", archive]),
        ("tag again", ["tag", "local/copy:one", "local/copy:two"]),
        ("prune", ["image", "prune", "-f"]),
    ]
    for what, args in steps:
        s.ok(*args)
        s.check(what)
        # A reader, then a writer with a checkpoint of its own, as a user might.
        assert int(sqlite_cli(s.db, "SELECT count(*) FROM images")) >= 0
        sqlite_cli(s.db, "CREATE TABLE IF NOT EXISTS user_notes (n TEXT);"
                         "INSERT INTO user_notes VALUES ('after %s');"
                         "PRAGMA wal_checkpoint(TRUNCATE);" % what)
        s.check(what + " and an outside writer")
        # berthd's next writes must land where everyone sees them.
        probe = "local/probe:" + what.replace(" ", "-")
        ids = s.ok("images", "-q").split()
        if not ids:  # everything was removed: a pull writes instead
            s.ok("pull", s.ref)
            ids = s.ok("images", "-q").split()
        s.ok("tag", ids[0], probe)
        assert "docker.io/" + probe in tags_outside(s.db), what
        s.ok("rmi", probe)
        assert "docker.io/" + probe not in tags_outside(s.db), what
        s.check(what + " and a write after it")

    # The user's own table is still there; after a restart everything works again.
    assert sqlite_cli(s.db, "SELECT count(*) FROM user_notes") == str(len(steps))
    listing = ["images", "--format", "{{.Repository}}:{{.Tag}}"]
    before = sorted(s.ok(*listing).split())
    assert "local/copy:one" in before and "local/copy:two" in before
    assert s.d.stop() == 0
    assert integrity(s.db) == "ok"
    s.d.start()
    assert "is damaged" not in s.d.logtext()
    assert sorted(s.ok(*listing).split()) == before
    s.ok("pull", s.ref)
    s.ok("rmi", "local/copy:one", "local/copy:two", s.ref)
    assert s.ok("images", "-q") == ""
    s.check("restart and every operation again")


def test_outside_readers_during_pulls_and_loads(store, tmproot):
    """Readers opening and closing berth.db in a loop while berthd pulls, loads
    and removes: no error on either side, nothing lost."""
    s = store
    stop = threading.Event()
    errors = []
    reads = [0]

    def reader():
        while not stop.is_set():
            try:
                c = sqlite3.connect(s.db, timeout=10)
                c.execute("SELECT count(*) FROM images").fetchone()
                c.execute("SELECT name FROM tags").fetchall()
                c.close()
                reads[0] += 1
            except sqlite3.Error as e:  # pragma: no cover - the failure this test looks for
                errors.append(str(e))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        archive = os.path.join(tmproot, "a.tar")
        for i in range(4):
            s.ok("pull", s.ref)
            s.ok("save", "-o", archive, s.ref)
            s.ok("rmi", s.ref)
            s.ok("load", "-q", "-i", archive)
            s.ok("tag", s.ref, "round/n:%d" % i)
            s.check("round %d" % i)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert reads[0] > 10
    assert sorted(tags_outside(s.db)) == sorted(
        ["docker.io/round/n:%d" % i for i in range(4)] + ["%s" % s.ref])


def test_a_second_daemon_on_any_shared_root_is_refused(store, tmproot):
    s = store
    first = s.d
    data_before = sorted(os.listdir(first.data))
    cases = [
        ("data", dict(extra_args=("--data-root", first.data)), "data root '%s'" % first.data),
        ("exec", dict(extra_args=("--exec-root", first.run)), "exec root '%s'" % first.run),
        ("sock", dict(sock=first.sock), "socket"),
        ("pid", dict(extra_args=("--pidfile", first.pidfile)), "pid file '%s'" % first.pidfile),
    ]
    for name, kw, what in cases:
        root = os.path.join(tmproot, "second-" + name)
        os.mkdir(root)
        extra = kw.get("extra_args", ())
        if name == "exec":  # its own pid file, so the exec root itself is what collides
            extra += ("--pidfile", os.path.join(root, "own.pid"))
        # Daemon() gives its own roots first; the later flag wins, as with dockerd.
        d = Daemon(root, extra_args=extra, sock=kw.get("sock"))
        d.start(wait=False)
        assert d.proc.wait(15) == 1, name
        d.log.close()
        log = d.logtext()
        if name == "sock":
            assert ("another daemon is already listening on '%s' (pid %d)"
                    % (first.sock, first.proc.pid)) in log, log
        else:
            assert ("failed to start daemon: %s is in use by another berthd (pid %d)"
                    % (what, first.proc.pid)) in log, log
        assert len(log.strip().splitlines()) <= 2, log  # the start line and the refusal
        # The first daemon is untouched and keeps working.
        assert first.proc.poll() is None
        assert os.path.exists(first.pidfile) and os.path.exists(first.sock)
        assert first.request("GET", "/_ping")[0] == 200
        s.check("a second daemon on the same " + name)
    assert sorted(os.listdir(first.data)) == data_before
    s.ok("pull", s.ref)
    s.check("pull after the refusals")


def test_a_damaged_database_is_refused_and_left_alone(store):
    s = store
    s.ok("pull", s.ref)
    assert s.d.stop() == 0
    # Make the file big enough to damage a page that matters, then scribble on it.
    c = sqlite3.connect(s.db)
    c.execute("CREATE TABLE filler (v TEXT)")
    c.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(200).hex(),) for _ in range(2000)])
    c.commit()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    # A page of the filler (the last table made, so at the file's end): the
    # damage a disk does, and one .recover can mend without losing berth's rows.
    size = os.path.getsize(s.db)
    assert size > 100 * 4096
    with open(s.db, "r+b") as f:
        f.seek(size - 20 * 4096)
        f.write(b"\x5a" * 4096)
    with open(s.db, "rb") as f:
        before = hashlib.sha256(f.read()).hexdigest()
    s.d.start(wait=False)
    assert s.d.proc.wait(15) == 1
    s.d.log.close()
    log = s.d.logtext()
    line = [l for l in log.splitlines() if "is damaged" in l]
    assert len(line) == 1, log
    assert "database '%s' is damaged" % s.db in line[0]
    assert "sqlite3 '%s' .dump" % s.db in line[0]
    with open(s.db, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == before, "berthd changed a damaged file"
    assert not os.path.exists(s.d.pidfile) and not os.path.exists(s.d.sock)
    # The salvage the message gives works (the damage was in a user's table), and
    # berthd starts on the result with every image.
    cmd = line[0][line[0].index("sqlite3 '%s' .dump" % s.db):]
    subprocess.run(cmd, shell=True, check=True)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(s.db + suffix):
            os.unlink(s.db + suffix)
    s.d.start()
    assert integrity(s.db) == "ok"
    assert s.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split() == [s.ref]


def test_a_lost_database_does_not_cost_the_layers(store):
    s = store
    s.ok("pull", s.ref)
    assert s.d.stop() == 0
    layers = sorted(os.listdir(os.path.join(s.d.data, "layers")))
    assert len(layers) == 3
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(s.db + suffix):
            os.unlink(s.db + suffix)
    s.d.start(wait=False)
    assert s.d.proc.wait(15) == 1
    s.d.log.close()
    log = s.d.logtext()
    assert ("store '%s' is damaged: 3 layer directories have no record in %s"
            % (s.d.data, s.db)) in log, log
    assert "restore berth.db" in log
    assert sorted(os.listdir(os.path.join(s.d.data, "layers"))) == layers
    assert len(os.listdir(os.path.join(s.d.data, "blobs", "sha256"))) >= 5
    # Doing what the message says (remove them) lets it start.
    shutil.rmtree(os.path.join(s.d.data, "layers"))
    s.d.start()


def test_a_missing_layer_is_reported_and_a_pull_restores_it(store):
    s = store
    s.ok("pull", s.ref)
    s.ok("tag", s.ref, "other/name:x")
    info = s.d.json("/images/%s/json" % s.ref)
    assert s.d.stop() == 0
    c = sqlite3.connect(s.db)
    chain = c.execute("SELECT chain_id FROM image_layers WHERE image_id = ? AND position = 1",
                      (info["Id"],)).fetchone()[0]
    c.close()
    victim = os.path.join(s.d.data, "layers", chain.split(":")[1])
    shutil.rmtree(victim)
    s.d.start()
    log = s.d.logtext()
    line = [l for l in log.splitlines() if "is damaged" in l]
    assert len(line) == 1, log
    assert "layer directory '%s' is missing" % victim in line[0]
    assert "'berth pull " in line[0] and "' restores it" in line[0]
    assert "'berth rmi -f %s' removes it" % info["Id"][:19] in line[0]
    # The record stays (nothing lost silently) ...
    assert sorted(s.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()) == \
        sorted(["other/name:x", s.ref])
    # ... and the pull the message names fetches what is missing.
    s.ok("pull", s.ref)
    assert os.path.isdir(victim)
    assert s.d.stop() == 0
    s.d.start()
    assert s.d.logtext().count("is damaged") == 1  # only the first start's line


def registry_blob_path(reg, digest):
    hexd = digest.split(":")[1]
    return os.path.join(reg.dir, "data", "docker", "registry", "v2", "blobs", "sha256",
                        hexd[:2], hexd, "data")


def test_a_failed_pull_leaves_no_blob_or_layer(store):
    s = store
    # The last layer's bytes lie about their digest; the config and the other
    # layers arrive fine first.
    layers = json.loads(s.img.blobs[s.img.top_digest])["layers"]
    assert layers[-1]["mediaType"].endswith(".tar")  # plain tar: its last byte is padding
    lying = registry_blob_path(s.reg, layers[-1]["digest"])
    with open(lying, "r+b") as f:
        f.seek(-1, 2)
        f.write(b"\xff")
    p = s.berth("pull", s.ref)
    assert p.returncode == 1
    assert "%s: digest mismatch" % layers[-1]["digest"] in p.stderr, p.stderr
    data_root = s.d.data
    assert os.listdir(os.path.join(data_root, "blobs", "sha256")) == []
    assert os.listdir(os.path.join(data_root, "layers")) == []
    assert os.listdir(os.path.join(data_root, "tmp")) == []
    assert sqlite_cli(s.db, "SELECT count(*) FROM layers") == "0"
    s.check("a failed pull")


def test_rmi_during_save_keeps_what_save_is_sending(store):
    """A save holds collection off while it streams; an rmi of the image it sends
    must not delete the config blob under it.  (Found by test_store_torture.py:
    rmi deleted the config blob itself, at once, so the archive ended in an error
    message where the config should be, and the client was told it succeeded.)"""
    s = store
    s.ok("pull", s.ref)
    config = json.loads(s.img.blobs[s.img.top_digest])["config"]["digest"]
    c = UnixHTTPConnection(s.d.sock)
    c.request("GET", "/images/get?names=" + s.ref)
    r = c.getresponse()
    assert r.status == 200
    first = r.read(1024)  # berthd is now blocked writing the first layer
    s.ok("rmi", s.ref)
    assert s.ok("images", "-q") == ""
    # The save is still sending, so collection waits and the config is still there.
    assert os.path.exists(os.path.join(s.d.data, "blobs", "sha256", config.split(":")[1]))
    rest = r.read()
    c.close()
    with tarfile.open(fileobj=io.BytesIO(first + rest)) as t:
        names = t.getnames()
        manifest = json.load(t.extractfile("manifest.json"))
    assert manifest[0]["Config"] == config.split(":")[1] + ".json"
    assert manifest[0]["Config"] in names
    assert len(manifest[0]["Layers"]) == 3 and all(l in names for l in manifest[0]["Layers"])
    # Once the save ended, everything the removed image had is collected.
    assert wait_settled(s.d.data) == []
    assert os.listdir(os.path.join(s.d.data, "blobs", "sha256")) == []
    assert os.listdir(os.path.join(s.d.data, "layers")) == []


def test_a_pull_fetches_the_blob_of_a_layer_unpacked_from_another(store, tmproot):
    """docker save writes layers uncompressed: a load of such an archive unpacks a
    layer from one blob, and a pull of an image with the same layer compressed must
    still fetch its own blob, or save and push of the pulled image fail ("layer has
    no stored blob").  Found by store_check's check of every image's layer blobs."""
    s = store
    man = json.loads(s.img.blobs[s.img.top_digest])
    raws = []
    for desc in man["layers"]:
        blob = s.img.blobs[desc["digest"]]
        if desc["mediaType"].endswith("+gzip"):
            blob = gzip.decompress(blob)
        elif desc["mediaType"].endswith("+zstd"):
            blob = subprocess.run(["zstd", "-q", "-d", "-c"], input=blob, check=True,
                                  capture_output=True).stdout
        raws.append(blob)
    archive = os.path.join(tmproot, "uncompressed.tar")
    docker20_archive(archive, raws, ["local/uncompressed:1"], "same layers, another config")
    s.ok("load", "-q", "-i", archive)
    s.ok("pull", s.ref)
    assert check_store(s.d.data) == []
    saved = os.path.join(tmproot, "saved.tar")
    s.ok("save", "-o", saved, s.ref)
    with tarfile.open(saved) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        assert [l.split("/")[0] for l in manifest[0]["Layers"]] == \
            [d["digest"].split(":")[1] for d in man["layers"]]
    # The pulled image survives the loaded one, and the other way round.
    s.ok("rmi", "local/uncompressed:1")
    assert check_store(s.d.data) == []
    s.ok("save", "-o", saved, s.ref)
