"""What a sound berth store looks like, checked from outside: one function per
kind of record, so every new kind (containers, volumes, networks) adds its own
check here and the torture test (test_store_torture.py) runs it after every
kill.

check_store(data_root) reads <data-root>/berth.db and the files beside it and
returns a list of problems, one line each (empty when the store is sound):

- berth.db passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`;
- every blob under blobs/sha256 is named by the SHA-256 of its bytes, and
  nothing else lives there;
- every image has its config blob, its manifest blob (when it was pulled), and
  its layers: image_layers rows at positions 0..n-1 whose chain ids follow from
  the diff ids, the diff ids the config's rootfs names, a directory for each
  chain id, and the compressed blob each row names (save and push send it);
- the `layers` table agrees with image_layers (refs = the number of rows that
  stack the layer) and with layers/ (a directory per row, a row per directory);
- nothing is left over once berthd collected (settled=True: after start-up
  recovery and GC, with no operation running): no layer row or directory that
  no image stacks, no blob that no image, image layer or repo digest names
  (the rule of blob_referenced in src/engine/layers.c), no temp file
  (tmp/*, layers/*.tmp), no half-unpacked layer (with expected_layers: each
  directory holds exactly what its layer's tar holds).

With settled=False (a store just after a SIGKILL, before any recovery) only
what must hold at every instant is checked: the database, every blob under its
final name verifies, every layer directory under its final name has its row
and (with expected_layers) its whole content, and every recorded image has all
its files.  Temp files and unreferenced leftovers are allowed then: start-up
recovery removes them.

db_copy=True checks a copy of berth.db (with its -wal) made in a temp dir, so
the check itself never runs SQLite's recovery on, or checkpoints, the files a
daemon is about to open.

The module never writes to the store it checks.
"""
import hashlib
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import time

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def chain_ids(diff_ids):
    """The chain ids of a stack of diff ids (image/layer.h)."""
    out = []
    for d in diff_ids:
        out.append(d if not out else
                   "sha256:" + hashlib.sha256(("%s %s" % (out[-1], d)).encode()).hexdigest())
    return out


def tree_listing(root):
    """{relative path: (kind, detail)} of a directory tree: ('f', sha256:…),
    ('l', target), ('d', ''), ('c', 'major:minor'), ('o', mode) for others."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                out[rel] = ("f", sha256_file(p))
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", "")
            elif stat.S_ISCHR(st.st_mode):
                out[rel] = ("c", "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
            else:
                out[rel] = ("o", oct(st.st_mode))
    return out


def _open_db(data_root, db_copy):
    """A read-only view of berth.db: (connection, temp dir to remove or None)."""
    db = os.path.join(data_root, "berth.db")
    if not db_copy:
        return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30), None
    tmp = tempfile.mkdtemp(prefix="berth-storecheck-")
    shutil.copy2(db, os.path.join(tmp, "berth.db"))
    if os.path.exists(db + "-wal"):  # the -shm is rebuilt from the WAL, as after a reboot
        shutil.copy2(db + "-wal", os.path.join(tmp, "berth.db-wal"))
    return sqlite3.connect(os.path.join(tmp, "berth.db"), timeout=30), tmp


def check_database(c):
    problems = []
    res = [r[0] for r in c.execute("PRAGMA integrity_check")]
    if res != ["ok"]:
        problems.append("berth.db: integrity_check: %s" % "; ".join(res[:5]))
    fk = c.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        problems.append("berth.db: foreign_key_check: %d rows name a missing parent (first: %r)"
                        % (len(fk), fk[0]))
    return problems


def check_blobs(data_root):
    """Every file under blobs/sha256 is a verified blob.  Returns (problems, set of digests)."""
    problems, have = [], set()
    bdir = os.path.join(data_root, "blobs", "sha256")
    if not os.path.isdir(bdir):
        return ["blobs/sha256 is missing"], have
    for name in sorted(os.listdir(bdir)):
        p = os.path.join(bdir, name)
        if not HEX64.match(name) or not os.path.isfile(p) or os.path.islink(p):
            problems.append("blobs/sha256/%s: not a blob (temp file or stray)" % name)
            continue
        got = sha256_file(p)
        if got != "sha256:" + name:
            problems.append("blob sha256:%s: content does not match its name (got %s)"
                            % (name, got))
        have.add("sha256:" + name)
    return problems, have


def check_layer_dirs(data_root, settled):
    """Entries of layers/: (problems, set of chain ids with a final-name directory)."""
    problems, dirs = [], set()
    ldir = os.path.join(data_root, "layers")
    if not os.path.isdir(ldir):
        return ["layers/ is missing"], dirs
    for name in sorted(os.listdir(ldir)):
        p = os.path.join(ldir, name)
        if HEX64.match(name) and os.path.isdir(p) and not os.path.islink(p):
            dirs.add("sha256:" + name)
        elif name.endswith(".tmp"):
            if settled:
                problems.append("layers/%s: a temp layer left after recovery" % name)
        else:
            problems.append("layers/%s: stray entry" % name)
    return problems, dirs


def check_temps(data_root):
    tdir = os.path.join(data_root, "tmp")
    left = sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []
    return ["tmp/%s: a temp file left after recovery" % n for n in left]


def image_config_diff_ids(data_root, config_digest):
    import json
    p = os.path.join(data_root, "blobs", "sha256", config_digest.split(":", 1)[1])
    with open(p, "rb") as f:
        cfg = json.loads(f.read())
    return cfg.get("rootfs", {}).get("diff_ids") or []


def check_images(c, data_root, blobs, dirs):
    problems = []
    rows = c.execute("SELECT id, manifest_digest FROM images ORDER BY id").fetchall()
    for image_id, manifest in rows:
        short = image_id[:19]
        if image_id not in blobs:
            problems.append("image %s: config blob is missing" % short)
        if manifest is not None and manifest not in blobs:
            problems.append("image %s: manifest blob %s is missing" % (short, manifest[:19]))
        layers = c.execute("SELECT position, chain_id, diff_id, blob_digest FROM image_layers "
                           "WHERE image_id = ? ORDER BY position", (image_id,)).fetchall()
        if [l[0] for l in layers] != list(range(len(layers))):
            problems.append("image %s: layer positions %r are not 0..n-1"
                            % (short, [l[0] for l in layers]))
        diff_ids = [l[2] for l in layers]
        if [l[1] for l in layers] != chain_ids(diff_ids):
            problems.append("image %s: chain ids do not follow from its diff ids" % short)
        if image_id in blobs:
            try:
                want = image_config_diff_ids(data_root, image_id)
            except (OSError, ValueError) as e:
                problems.append("image %s: config unreadable: %s" % (short, e))
            else:
                if want != diff_ids:
                    problems.append("image %s: recorded diff ids differ from its config's" % short)
        for pos, chain, _diff, blob in layers:
            if chain not in dirs:
                problems.append("image %s: layer %d directory %s is missing"
                                % (short, pos, chain[:19]))
            if blob is not None and blob not in blobs:
                problems.append("image %s: layer %d blob %s is missing (save and push need it)"
                                % (short, pos, blob[:19]))
    return problems


def check_layer_rows(c, dirs, settled):
    problems = []
    rows = {r[0]: r[1] for r in c.execute("SELECT chain_id, refs FROM layers")}
    stacked = {r[0]: r[1] for r in c.execute(
        "SELECT chain_id, count(*) FROM image_layers GROUP BY chain_id")}
    for chain in sorted(dirs - set(rows)):
        problems.append("layer directory %s has no row in `layers` (start-up refuses such a "
                        "store)" % chain[:19])
    for chain in sorted(set(stacked) - set(rows)):
        problems.append("layer %s: stacked by an image but has no row" % chain[:19])
    if settled:
        for chain, refs in sorted(rows.items()):
            if refs != stacked.get(chain, 0):
                problems.append("layer %s: refs %d but %d images stack it"
                                % (chain[:19], refs, stacked.get(chain, 0)))
            if chain not in stacked:
                problems.append("layer %s: row left after GC though no image stacks it"
                                % chain[:19])
            elif chain not in dirs:
                problems.append("layer %s: row without a directory" % chain[:19])
        for chain in sorted(dirs - set(stacked)):
            problems.append("layer directory %s is unreferenced after GC" % chain[:19])
    return problems


def referenced_blobs(c):
    """Digests berthd's collection keeps (blob_referenced in src/engine/layers.c)."""
    keep = set()
    for image_id, manifest in c.execute("SELECT id, manifest_digest FROM images"):
        keep.add(image_id)
        if manifest:
            keep.add(manifest)
    keep.update(r[0] for r in c.execute(
        "SELECT blob_digest FROM image_layers WHERE blob_digest IS NOT NULL"))
    for (name,) in c.execute("SELECT name FROM repo_digests"):
        if "@" in name:
            keep.add(name.rsplit("@", 1)[1])
    return keep


def check_layer_contents(c, data_root, dirs, expected_layers):
    """A directory under its final name holds its whole layer: compared with
    expected_layers {diff_id: tree_listing of the unpacked tar}."""
    problems = []
    diff_of = dict(c.execute("SELECT chain_id, diff_id FROM layers"))
    diff_of.update(dict(c.execute("SELECT chain_id, diff_id FROM image_layers")))
    for chain in sorted(dirs):
        diff = diff_of.get(chain)
        if diff is None or diff not in expected_layers:
            continue  # reported elsewhere (no row), or a layer this caller did not make
        got = tree_listing(os.path.join(data_root, "layers", chain.split(":", 1)[1]))
        want = expected_layers[diff]
        if got != want:
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            differ = sorted(k for k in set(want) & set(got) if want[k] != got[k])
            problems.append("layer directory %s is not its whole layer: %d missing (%s), "
                            "%d extra (%s), %d differ (%s)"
                            % (chain[:19], len(missing), missing[:3], len(extra), extra[:3],
                               len(differ), differ[:3]))
    return problems


def check_volumes(c, data_root, settled):
    """Volume rows and volumes/<name>/_data directories agree.  A create writes the directory
    first and a remove renames it to .trash-<name>-<rand> first, so at any instant a directory
    may lack its row and a row its directory; once berthd has started, every directory is a
    volume (adopted), every row has its directory (an interrupted removal completed), and no
    trash is left."""
    if not c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='volumes'").fetchone():
        return []
    problems = []
    rows = {r[0] for r in c.execute("SELECT name FROM volumes")}
    root = os.path.join(data_root, "volumes")
    entries = os.listdir(root) if os.path.isdir(root) else []
    dirs = {e for e in entries if not e.startswith(".")}
    if not settled:
        return problems
    for name in sorted(rows - {d for d in dirs if os.path.isdir(os.path.join(root, d, "_data"))}):
        problems.append("volume %s: a record without volumes/%s/_data" % (name, name))
    for name in sorted(dirs - rows):
        problems.append("volumes/%s: a directory without a record" % name)
    for e in sorted(x for x in entries if x.startswith(".trash-")):
        problems.append("volumes/%s: a removed volume's files left" % e)
    return problems


def check_store(data_root, settled=True, db_copy=False, expected_layers=None):
    """Problems found in the store at data_root, one line each; [] when sound."""
    problems = []
    c, tmp = _open_db(data_root, db_copy)
    try:
        problems += check_database(c)
        p, blobs = check_blobs(data_root)
        problems += p
        p, dirs = check_layer_dirs(data_root, settled)
        problems += p
        if settled:
            problems += check_temps(data_root)
        problems += check_images(c, data_root, blobs, dirs)
        problems += check_layer_rows(c, dirs, settled)
        if settled:
            for d in sorted(blobs - referenced_blobs(c)):
                problems.append("blob %s is unreferenced after GC" % d[:19])
        if expected_layers:
            problems += check_layer_contents(c, data_root, dirs, expected_layers)
        problems += check_volumes(c, data_root, settled)
        # Containers and networks add their checks here as they land.
    finally:
        c.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return problems


def wait_settled(data_root, timeout=15, **kw):
    """check_store() once a running berthd has caught up: a client that went away
    (a cancelled pull) is noticed at berthd's next write to it, and collection
    waits for the last running pull, load and save; so poll.  What is still
    wrong after timeout seconds is returned: a leak, not a delay."""
    deadline = time.monotonic() + timeout
    while True:
        problems = check_store(data_root, **kw)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(0.2)


def mounts_below(path):
    """Mount points at or below path (mountinfo of this mount namespace)."""
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return out


def children_of(pid):
    """Pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may hold spaces and parentheses
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def processes_using(path):
    """Pids (other than this process) whose executable, cwd or command line
    names something under path: what a killed daemon could have left running."""
    path = os.path.realpath(path)
    out = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink("/proc/%s/cwd" % d)
        except OSError:
            continue
        if path in cmd or cwd == path or cwd.startswith(path + "/"):
            out.append((int(d), cmd.strip()))
    return out
