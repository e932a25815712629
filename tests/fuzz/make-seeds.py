#!/usr/bin/python3
"""make-seeds.py — writes the seed corpora of the fuzz targets that take hostile files
and server answers: corpus-layer-apply/, corpus-load/, corpus-cli-response/ and
corpus-registry-response/ (the outputs are committed; rerun after changing a case).

The cases are the hostile inputs the tests already craft, rebuilt here small:
tests/unit/test-layer.c and tests/integration/test_layer_apply.py (layers that climb
out with ../, absolute names, planted symlinks and hardlinks, whiteouts outside,
overlay xattrs, bombs), tests/integration/test_image_load.py (archives whose
manifest names members through symlinks in circles and out of the archive, lying
blobs, cut archives), tests/integration/test_daemon.py (a daemon's odd answers) and
tests/integration/test_registry.py's lying registry (wrong digests, resumes that
start elsewhere, redirects, 401 loops, 429, Link pages).  A planted link aims at
"../../../outside", the sentinel directory of fuzz-layer-apply and fuzz-load.

Deterministic (fixed mtimes, gzip mtime 0), so rerunning changes nothing.
usage: tests/fuzz/make-seeds.py
"""
import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
MTIME = 1700000000
OUT = "../../../outside"  # from data/layers/<id>.tmp to the scratch dir's outside/


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def tar(entries, fmt=tarfile.PAX_FORMAT):
    """entries: (name, kind, arg, extra): kind file|dir|sym|hard|chr|fifo; arg the data or
    link target; extra a dict of pax headers."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=fmt) as t:
        for e in entries:
            name, kind, arg = e[:3]
            ti = tarfile.TarInfo(name)
            ti.mtime, ti.mode = MTIME, 0o755 if kind == "dir" else 0o644
            if len(e) > 3:
                ti.pax_headers = e[3]
            data = None
            if kind == "file":
                ti.size = len(arg)
                data = io.BytesIO(arg)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
            elif kind == "chr":
                ti.type, (ti.devmajor, ti.devminor) = tarfile.CHRTYPE, arg
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            t.addfile(ti, data)
    return bio.getvalue()


def gz(b):
    return gzip.compress(b, mtime=0)


def zst(b):
    return subprocess.run(["zstd", "-q", "-c"], input=b, capture_output=True, check=True).stdout


def write(corpus, name, data):
    d = os.path.join(HERE, "corpus-" + corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def layers():
    ok = tar([("etc", "dir", None), ("etc/hostname", "file", b"box\n"),
              ("bin", "dir", None), ("bin/sh", "file", b"#!sh\n"),
              ("bin/ash", "hard", "bin/sh"), ("bin/link", "sym", "sh"),
              ("dev", "dir", None), ("dev/null", "chr", (1, 3)), ("run", "dir", None),
              ("run/fifo", "fifo", None), ("etc/.wh.old", "file", b""),
              ("var", "dir", None), ("var/.wh..wh..opq", "file", b""),
              ("etc/cap", "file", b"x", {"SCHILY.xattr.user.note": "hi",
                                         "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"})])
    cases = {
        "ok.tar": ok, "ok.tar.gz": gz(ok), "ok.tar.zst": zst(ok),
        "ok-gnu.tar": tar([("d", "dir", None), ("d/" + "n" * 150, "file", b"long"),
                           ("d/l", "sym", "t" * 150)], tarfile.GNU_FORMAT),
        "dotdot.tar": tar([(OUT + "/pwned", "file", b"evil")]),
        "dotdot-inner.tar": tar([("a", "dir", None), ("a/../../pwned", "file", b"evil")]),
        "absolute.tar": tar([("/outside/pwned", "file", b"stays inside")]),
        "planted-symlink.tar": tar([("escape", "sym", OUT), ("escape/pwned", "file", b"evil")]),
        "planted-abs-symlink.tar": tar([("escape", "sym", "/tmp"),
                                        ("escape/pwned", "file", b"evil")]),
        "planted-symlink-dir.tar": tar([("d", "dir", None), ("d/up", "sym", "../.."),
                                        ("d/up/up/outside/pwned", "file", b"evil")]),
        "symlink-chain.tar": tar([("a", "sym", "b"), ("b", "sym", "c"), ("c", "sym", OUT),
                                  ("a/pwned", "file", b"evil")]),
        "dir-then-symlink.tar": tar([("x", "dir", None), ("x", "sym", OUT),
                                     ("x/pwned", "file", b"evil")]),
        "hardlink-out.tar": tar([("hl", "hard", OUT + "/sentinel")]),
        "hardlink-abs.tar": tar([("hl", "hard", "/etc/passwd")]),
        "hardlink-through-symlink.tar": tar([("s", "sym", OUT), ("hl", "hard", "s/sentinel")]),
        "whiteout-out.tar": tar([(OUT + "/.wh.sentinel", "file", b"")]),
        "whiteout-through-symlink.tar": tar([("s", "sym", OUT), ("s/.wh.sentinel", "file", b"")]),
        "overlay-xattr.tar": tar([("d", "dir", None, {"SCHILY.xattr.trusted.overlay.opaque": "y"})]),
        "overlay-redirect.tar": tar([("d", "dir", None,
                                      {"SCHILY.xattr.trusted.overlay.redirect": "/etc"})]),
        "device-through-symlink.tar": tar([("s", "sym", OUT), ("s/null", "chr", (1, 3))]),
        "bomb.tar.gz": gz(tar([("zeros", "file", bytes(9 << 20))])),
        "planted-symlink.tar.gz": gz(tar([("escape", "sym", OUT),
                                          ("escape/pwned", "file", b"evil")])),
        "planted-symlink.tar.zst": zst(tar([("escape", "sym", OUT),
                                            ("escape/pwned", "file", b"evil")])),
        "cut.tar": ok[:700],
    }
    for name, data in cases.items():
        write("layer-apply", name, data)


def config_for(raws):
    return json.dumps({"created": "2026-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
                       "config": {"Cmd": ["/bin/sh"]},
                       "rootfs": {"type": "layers", "diff_ids": [sha(r) for r in raws]}}).encode()


def docker20(raws, tags=("fuzz:1",), layer_names=None, extra=()):
    cfg = config_for(raws)
    ents, names = [], []
    for i, raw in enumerate(raws):
        d = hashlib.sha256(b"%d" % i).hexdigest()[:16]
        ents += [(d, "dir", None), (d + "/VERSION", "file", b"1.0"),
                 (d + "/layer.tar", "file", raw)]
        names.append(d + "/layer.tar")
    ents.append((sha(cfg)[7:] + ".json", "file", cfg))
    ents += list(extra)
    ents.append(("manifest.json", "file", json.dumps(
        [{"Config": sha(cfg)[7:] + ".json", "RepoTags": list(tags),
          "Layers": layer_names or names}]).encode()))
    return tar(ents)


def oci(raws, nested=False, docker_manifest=False, links=False):
    cfg = config_for(raws)
    blobs = {sha(cfg): cfg}
    descs = []
    for raw in raws:
        blobs[sha(raw)] = raw
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(raw),
                      "size": len(raw)})
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": sha(cfg), "size": len(cfg)}, "layers": descs}).encode()
    blobs[sha(m)] = m
    top = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(m),
           "size": len(m), "annotations": {"io.containerd.image.name": "docker.io/library/f:1"}}
    if nested:
        x = json.dumps({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(m),
             "size": len(m), "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
        blobs[sha(x)] = x
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(x),
               "size": len(x), "annotations": top["annotations"]}
    ents = [("oci-layout", "file", b'{"imageLayoutVersion":"1.0.0"}')]
    ents += [("blobs/sha256/" + d[7:], "file", b) for d, b in blobs.items()]
    ents.append(("index.json", "file", json.dumps({"schemaVersion": 2,
                                                   "manifests": [top]}).encode()))
    if docker_manifest:
        layer_names = []
        for raw in raws:
            if links:
                ents.append((sha(raw)[7:] + "/layer.tar", "sym", "../blobs/sha256/" + sha(raw)[7:]))
                layer_names.append(sha(raw)[7:] + "/layer.tar")
            else:
                layer_names.append("blobs/sha256/" + sha(raw)[7:])
        ents.append(("manifest.json", "file", json.dumps(
            [{"Config": "blobs/sha256/" + sha(cfg)[7:], "RepoTags": ["f:1"],
              "Layers": layer_names}]).encode()))
    return tar(ents)


def archives():
    base = tar([("etc", "dir", None), ("etc/x", "file", b"x")])
    cfg = config_for([base])
    cfgname = sha(cfg)[7:] + ".json"

    def manifest_only(layers_, extra):
        return tar([(cfgname, "file", cfg)] + list(extra) + [("manifest.json", "file", json.dumps(
            [{"Config": cfgname, "RepoTags": ["m:1"], "Layers": layers_}]).encode())])
    lie = bytearray(oci([base]))
    cases = {
        "docker20.tar": docker20([base]),
        "docker20.tar.gz": gz(docker20([base])),
        "docker20-two-layers.tar": docker20([base, tar([("etc/.wh.x", "file", b"")])]),
        "docker25-links.tar": oci([base], docker_manifest=True, links=True),
        "docker25-paths.tar": oci([base], docker_manifest=True),
        "oci.tar": oci([base]),
        "oci-nested.tar": oci([base], nested=True),
        "missing-dotdot.tar": manifest_only(["../../etc/passwd"], []),
        "link-out.tar": manifest_only(["z/layer.tar"], [("z/layer.tar", "sym",
                                                         "../../../../etc/passwd")]),
        "link-outside-dir.tar": manifest_only(["z/layer.tar"], [("z/layer.tar", "sym", OUT)]),
        "link-loop.tar": manifest_only(["x/layer.tar"], [("x/layer.tar", "sym", "../y/layer.tar"),
                                                         ("y/layer.tar", "sym", "../x/layer.tar")]),
        "link-chain-17.tar": manifest_only(["l0"], [("l%d" % i, "sym", "l%d" % (i + 1))
                                                    for i in range(17)] + [("l17", "file", base)]),
        "hardlink-member.tar": manifest_only(["h"], [("real", "file", base), ("h", "hard", "real")]),
        "hardlink-out.tar": manifest_only(["h"], [("h", "hard", "../../etc/passwd")]),
        "config-through-link.tar": tar([("real.json", "file", cfg), ("c.json", "sym", "real.json"),
                                        ("l", "file", base),
                                        ("manifest.json", "file", json.dumps(
                                            [{"Config": "c.json", "RepoTags": ["m:1"],
                                              "Layers": ["./l"]}]).encode())]),
        "blob-name-lies.tar": bytes(lie),
        "blob-name-not-hex.tar": tar([("blobs/sha256/../../../outside/x", "file", b"evil"),
                                      ("blobs/sha256/" + "Z" * 64, "file", b"evil")]),
        "metadata-twice.tar": manifest_only([], [("manifest.json", "file", b"[]")]),
        "layer-escapes.tar": docker20([tar([("escape", "sym", OUT),
                                            ("escape/pwned", "file", b"evil")])]),
        "tags-hostile.tar": docker20([base], tags=("UPPER:1", "a@sha256:zz", "x:" + "t" * 200,
                                                   "../x:1")),
        "nolayout.tar": tar([("index.json", "file", b'{"schemaVersion":2,"manifests":[]}')]),
        "neither.tar": tar([("hello.txt", "file", b"hi")]),
        "cut.tar": docker20([base])[:1536 + 700],
    }
    for name, data in cases.items():
        write("load", name, data)


def http(status, reason, headers=(), body=b"", length=True):
    h = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    if length:
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body


def chunked(status, parts, headers=(), trailer=b""):
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n" + trailer + b"\r\n"
    return http(status, "OK", list(headers) + [("Transfer-Encoding", "chunked")], body,
                length=False)


def cli_responses():
    ping = http(200, "OK", [("Api-Version", "1.41"), ("Docker-Experimental", "false")], b"OK")
    info = http(200, "OK", [("Content-Type", "application/json")], b'{"ID":"x","Containers":0}')
    prog = chunked(200, [b'{"status":"Pulling from library/busybox","id":"latest"}\r\n',
                         b'{"status":"Downloading","progressDetail":{"current":1,"total":2}}\r\n',
                         b'{"errorDetail":{"message":"boom"},"error":"boom"}\r\n'],
                   [("Content-Type", "application/json")])
    old = http(200, "OK", [("Api-Version", "1.30")], b"OK")  # an older dockerd (test_daemon)
    cases = {
        "ok": ping + info + prog,
        "old-daemon": old + info + prog,
        "head-with-length": http(200, "OK", [("Api-Version", "1.41")], b"") + info + prog,
        "no-api-version": http(200, "OK", [], b"OK") + info,
        "error-json": ping + http(500, "Internal Server Error", [("Content-Type",
                                  "application/json")], b'{"message":"it broke"}') + prog,
        "error-plain": ping + http(404, "Not Found", [], b"page not found\n"),
        "chunk-extensions-trailer": ping + chunked(200, [b"{}"], [], b"X-T: 1\r\n") + prog,
        "chunk-size-huge": ping + http(200, "OK", [("Transfer-Encoding", "chunked")],
                                       b"ffffffffffffffff\r\nx", length=False),
        "chunk-bad-hex": ping + http(200, "OK", [("Transfer-Encoding", "chunked")],
                                     b"zz\r\nnot hex\r\n", length=False),
        "length-and-chunked": ping + http(200, "OK", [("Transfer-Encoding", "chunked"),
                                                      ("Content-Length", "3")],
                                          b"3\r\nabc\r\n0\r\n\r\n", length=False),
        "bad-length": ping + http(200, "OK", [("Content-Length", "-1")], b"", length=False),
        "bad-length-nonnumeric": ping + http(200, "OK", [("Content-Length", "2x")], b"",
                                             length=False),
        "two-lengths": ping + http(200, "OK", [("Content-Length", "1"), ("Content-Length", "2")],
                                   b"ab", length=False),
        "length-longer-than-body": ping + http(200, "OK", [("Content-Length", "99")], b"short",
                                               length=False),
        "until-close": ping + b"HTTP/1.0 200 OK\r\n\r\nthe rest is the body",
        "continue-then-ok": ping + http(100, "Continue", [], b"", length=False) + info,
        "no-content": ping + http(204, "No Content", [], b"", length=False) + prog,
        "not-modified-with-body": ping + http(304, "Not Modified", [], b"xx") + prog,
        "bad-status-line": b"HTTP/1.1 2000 OK\r\n\r\n",
        "http2-status": b"HTTP/2 200\r\n\r\n",
        "nul-in-head": b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
        "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nOK",
        "keep-alive-leftover": ping + info + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk",
        "connection-close": ping + http(200, "OK", [("Connection", "close")], b"{}") + prog,
        "obs-fold": ping + b"HTTP/1.1 200 OK\r\nX: a\r\n  b\r\nContent-Length: 0\r\n\r\n",
        "many-headers": ping + b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 200 + b"\r\n",
        # found by this target: the parser freed the head before quoting its bad
        # Content-Length in the message (a use after free in the CLI)
        "found-bad-length-use-after-free": base64.b64decode(
            "SFRUUC8xLjEgMjAwIE9LDQpBcGktVmVyc2lvbjogMUNvbnRlbnQtTGVwaS1WZXJzaW9uOiExLjQxDQpDb2"
            "50ZW50LUxlbmd0aDogMv///0wxLg0KDQo="),
    }
    for name, data in cases.items():
        write("cli-response", name, data)


SEP = b"@@NEXT@@"


def registry_responses():
    blob = b"fuzz"  # fuzz-registry-response fetches sha256("fuzz")
    cfg = b"{}"
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": sha(cfg), "size": 2}, "layers": []}).encode()
    mt = ("Content-Type", "application/vnd.oci.image.manifest.v1+json")
    x = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [{"mediaType": mt[1], "digest": sha(m), "size": len(m),
                                   "platform": {"os": "linux", "architecture": "amd64"}},
                                  {"mediaType": mt[1], "digest": sha(b"arm"), "size": 3,
                                   "platform": {"os": "linux", "architecture": "arm64"}}]}
                   ).encode()
    ping = http(200, "OK", [("Docker-Distribution-Api-Version", "registry/2.0")], b"{}")
    man = http(200, "OK", [mt, ("Docker-Content-Digest", sha(m))], m)
    tags1 = http(200, "OK", [("Link", '</v2/fuzz/repo/tags/list?last=b&n=2>; rel="next"')],
                 b'{"name":"fuzz/repo","tags":["a","b"]}')
    tags2 = http(200, "OK", [], b'{"name":"fuzz/repo","tags":["c"]}')
    blob200 = http(200, "OK", [("Content-Type", "application/octet-stream")], blob)
    bearer = ('Bearer realm="http://@HOST@/token",service="fuzz",'
              'scope="repository:fuzz/repo:pull"')
    unknown = http(404, "Not Found", [("Content-Type", "application/json")],
                   b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

    def seq(first, *resps):
        return bytes([first]) + SEP.join(resps)
    cases = {
        "ok": seq(0, ping, man, tags1, tags2, blob200),
        "ok-basic": seq(1, http(401, "Unauthorized", [("WWW-Authenticate", 'Basic realm="r"')]),
                        ping, man, tags1, tags2, blob200),
        "bearer": seq(0, http(401, "Unauthorized", [("WWW-Authenticate", bearer)]),
                      http(200, "OK", [], b'{"token":"t","expires_in":60}'), man, tags2, blob200),
        "bearer-loop": seq(1, *[http(401, "Unauthorized", [("WWW-Authenticate", bearer)],
                                     b'{"errors":[{"code":"UNAUTHORIZED","message":"nope"}]}'),
                                http(200, "OK", [], b'{"token":"useless"}')] * 3),
        "bearer-realm-elsewhere": seq(0, http(401, "Unauthorized", [(
            "WWW-Authenticate", 'Bearer realm="http://127.0.0.2:1/token",service="x"')])),
        "index": seq(0, ping, http(200, "OK", [("Content-Type",
                                                "application/vnd.oci.image.index.v1+json")], x),
                     man, tags2, blob200),
        "index-manifest-lies": seq(0, ping, http(200, "OK", [(
            "Content-Type", "application/vnd.oci.image.index.v1+json")], x),
            http(200, "OK", [mt], m.replace(b'"size": 2', b'"size": 3'))),  # same length
        "manifest-digest-lies": seq(0, ping, http(200, "OK", [mt, ("Docker-Content-Digest",
                                                                   sha(b"something else"))], m)),
        "manifest-unknown": seq(0, ping, unknown, unknown, unknown),
        "manifest-size-lies": seq(0, ping, http(200, "OK", [mt, ("Content-Length", "9999")], m,
                                                length=False)),
        "blob-wrong-digest": seq(0, ping, man, tags2, http(200, "OK", [], b"FUZZ")),
        "blob-resume": seq(0, ping, man, tags2,
                           http(200, "OK", [("Content-Length", "4")], b"fu", length=False),
                           http(206, "Partial Content", [("Content-Range", "bytes 2-3/4")], b"zz")),
        "blob-resume-elsewhere": seq(0, ping, man, tags2,
                                     http(200, "OK", [("Content-Length", "4")], b"fu",
                                          length=False),
                                     http(206, "Partial Content", [("Content-Range",
                                                                    "bytes 0-3/4")], b"fuzz")),
        "blob-range-ignored": seq(0, ping, man, tags2,
                                  http(200, "OK", [("Content-Length", "4")], b"fu", length=False),
                                  blob200),
        "blob-redirect": seq(0, ping, man, tags2,
                             http(307, "Temporary Redirect", [("Location",
                                                               "http://@HOST@/storage/b")]),
                             blob200),
        "blob-redirect-relative": seq(0, ping, man, tags2,
                                      http(302, "Found", [("Location", "../../x?y#z")]), blob200),
        "blob-429": seq(0, ping, man, tags2,
                        http(429, "Too Many Requests", [("Retry-After", "100000")],
                             b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'),
                        blob200),
        "blob-503": seq(0, ping, man, tags2, http(503, "Service Unavailable", [], b"busy"),
                        blob200),
        "tags-link-elsewhere": seq(0, ping, man,
                                   http(200, "OK", [("Link", '<http://127.0.0.2:1/v2/x>; '
                                                             'rel="next"')], b'{"tags":["a"]}')),
        "tags-link-loop": seq(0, ping, man, *[http(200, "OK", [(
            "Link", '</v2/fuzz/repo/tags/list?n=1>; rel="next"')], b'{"tags":["a"]}')] * 5),
        "tags-not-list": seq(0, ping, man, http(200, "OK", [], b'{"tags":"a"}')),
        "chunked-manifest": seq(0, ping, chunked(200, [m[:10], m[10:]], [mt])),
    }
    for name, data in cases.items():
        write("registry-response", name, data)


def main():
    for c in ("layer-apply", "load", "cli-response", "registry-response"):
        shutil.rmtree(os.path.join(HERE, "corpus-" + c), ignore_errors=True)
    layers()
    archives()
    cli_responses()
    registry_responses()


if __name__ == "__main__":
    main()
