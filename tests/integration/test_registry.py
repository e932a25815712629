"""The registry client (src/registry) against real and lying registries.

Fixtures start CNCF Distribution (Debian's docker-registry) on 127.0.0.1 in
four modes: plain HTTP, TLS with a CA made here by openssl, htpasswd Basic
auth, and Bearer tokens issued by a small token server in this file (RS256
JWTs the registry verifies through its rootcertbundle).  Test images are
built here from busybox-static: layers as gzip, zstd and plain tar, a config,
a manifest, and an index with two platforms.  A lying registry written here
serves wrong digests, truncated blobs, 500s, endless 401s and redirects to
another host.  The client is driven through tests/helper/berth-regclient.

Every registry and server started here is stopped at teardown.
"""
import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import build_path

REGISTRY_BIN = "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


def regclient():
    path = build_path("tests", "helper", "berth-regclient")
    assert os.path.exists(path), "build the tree first: %s is missing" % path
    return path


def run_client(*args, check=True, timeout=120):
    p = subprocess.run([regclient(), *args], capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("berth-regclient %s failed: %s" % (" ".join(args), p.stderr.decode()))
    return p


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on %s:%d" % (host, port))


# ---- test images -------------------------------------------------------------

def make_tar(files):
    """files: list of (name, bytes or None for dir, mode, symlink target)."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data, mode, link in files:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = mode
            if link is not None:
                ti.type = tarfile.SYMTYPE
                ti.linkname = link
                t.addfile(ti)
            elif data is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def compress(raw, how):
    if how == "gzip":
        return gzip.compress(raw, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, check=True,
                              capture_output=True).stdout
    return raw


class Image:
    """An image as blobs: {digest: bytes}, plus the top document to tag."""

    def __init__(self):
        self.blobs = {}
        self.top_digest = None
        self.top_media_type = None
        self.manifests = {}  # platform -> manifest digest

    def add(self, data):
        d = sha256(data)
        self.blobs[d] = data
        return d

    def write_dir(self, d):
        os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
        for dig, data in self.blobs.items():
            with open(os.path.join(d, "blobs", "sha256", dig.split(":")[1]), "wb") as f:
                f.write(data)
        with open(os.path.join(d, "top.json"), "w") as f:
            json.dump({"digest": self.top_digest, "mediaType": self.top_media_type}, f)


def busybox_layers():
    with open("/bin/busybox", "rb") as f:
        bb = f.read()
    base = make_tar([("bin", None, 0o755, None), ("bin/busybox", bb, 0o755, None),
                     ("bin/sh", None, 0o777, "busybox"), ("bin/ls", None, 0o777, "busybox")])
    etc = make_tar([("etc", None, 0o755, None),
                    ("etc/hello.txt", b"hello from a zstd layer\n", 0o644, None)])
    extra = make_tar([("srv", None, 0o755, None),
                      ("srv/data", os.urandom(64 * 1024), 0o600, None)])
    return [(base, "gzip"), (etc, "zstd"), (extra, "none")]


def build_image(docker=False, two_platforms=False):
    img = Image()
    layers = busybox_layers()
    descs, diff_ids = [], []
    for raw, how in layers:
        blob = compress(raw, how)
        d = img.add(blob)
        mt = LAYER_TYPES[how]
        if docker:
            mt = {"gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                  "zstd": "application/vnd.docker.image.rootfs.diff.tar.zstd",
                  "none": "application/vnd.docker.image.rootfs.diff.tar"}[how]
        descs.append({"mediaType": mt, "digest": d, "size": len(blob)})
        diff_ids.append(sha256(raw))
    platforms = [("amd64", None), ("arm64", "v8")] if two_platforms else [("amd64", None)]
    index_entries = []
    for arch, variant in platforms:
        cfg = {"created": "2026-01-01T00:00:00Z", "architecture": arch, "os": "linux",
               "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/",
                          "Labels": {"test": uuid.uuid4().hex}},
               "rootfs": {"type": "layers", "diff_ids": diff_ids},
               "history": [{"created_by": "test layer %d" % i} for i in range(len(layers))]}
        if variant:
            cfg["variant"] = variant
        cfg_bytes = json.dumps(cfg, indent=3).encode()  # odd spacing: digests must survive
        cd = img.add(cfg_bytes)
        man = {"schemaVersion": 2,
               "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
               "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                          "digest": cd, "size": len(cfg_bytes)},
               "layers": descs}
        mb = json.dumps(man, indent=2).encode()
        md = img.add(mb)
        img.manifests[arch] = md
        plat = {"architecture": arch, "os": "linux"}
        if variant:
            plat["variant"] = variant
        index_entries.append({"mediaType": man["mediaType"], "digest": md, "size": len(mb),
                              "platform": plat})
        img.top_digest, img.top_media_type = md, man["mediaType"]
    if two_platforms:
        idx = {"schemaVersion": 2, "mediaType": DOCKER_LIST if docker else OCI_INDEX,
               "manifests": index_entries}
        ib = json.dumps(idx).encode()
        img.top_digest, img.top_media_type = img.add(ib), idx["mediaType"]
    return img


def http_push(base, repo, tag, img, headers=None):
    """Push an Image with plain urllib (an independent client for the plain registry)."""
    headers = headers or {}

    def req(method, url, data=None, hdrs=None):
        r = urllib.request.Request(url, data=data, method=method,
                                   headers={**headers, **(hdrs or {})})
        return urllib.request.urlopen(r)

    docs = {}
    for d, data in img.blobs.items():
        try:
            mt = json.loads(data).get("mediaType")
        except (ValueError, UnicodeDecodeError, AttributeError):
            mt = None
        if mt in (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST):
            docs[d] = mt
            continue
        with req("POST", "%s/v2/%s/blobs/uploads/" % (base, repo)) as r:
            loc = urllib.parse.urljoin(base, r.headers["Location"])
        sep = "&" if "?" in loc else "?"
        req("PUT", loc + sep + "digest=" + d, data,
            {"Content-Type": "application/octet-stream"}).close()
    # image manifests before the index that names them
    for d, mt in sorted(docs.items(), key=lambda kv: kv[1] in (OCI_INDEX, DOCKER_LIST)):
        ref = tag if d == img.top_digest else d
        req("PUT", "%s/v2/%s/manifests/%s" % (base, repo, ref), img.blobs[d],
            {"Content-Type": mt}).close()


# ---- registries ----------------------------------------------------------------

class Registry:
    def __init__(self, workdir, tls=None, htpasswd=None, token=None, client_ca=None, ip="127.0.0.1"):
        self.port = free_port(ip)
        self.dir = tempfile.mkdtemp(prefix="reg-", dir=workdir)
        bracketed = "[%s]" % ip if ":" in ip else ip
        self.host = "%s:%d" % (bracketed, self.port)
        cfg = ["version: 0.1",
               "log:", "  level: error", "  accesslog:", "    disabled: true",
               "storage:", "  filesystem:", "    rootdirectory: %s/data" % self.dir,
               "  delete:", "    enabled: true",
               "http:", "  addr: \"%s\"" % self.host, "  secret: %s" % uuid.uuid4().hex]
        if tls:
            cfg += ["  tls:", "    certificate: %s" % tls[0], "    key: %s" % tls[1]]
            if client_ca:
                cfg += ["    clientcas:", "      - %s" % client_ca]
        if htpasswd:
            cfg += ["auth:", "  htpasswd:", "    realm: berth-test", "    path: %s" % htpasswd]
        if token:
            cfg += ["auth:", "  token:", "    realm: %s" % token.realm,
                    "    service: %s" % token.service, "    issuer: %s" % token.issuer,
                    "    rootcertbundle: %s" % token.cert]
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, ip)
        except AssertionError:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


@pytest.fixture
def regwork():
    d = tempfile.mkdtemp(prefix="berth-regtest-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def registries():
    started = []

    def start(*a, **kw):
        r = Registry(*a, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca_and_server_cert(d):
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
            "-days", "2", "-subj", "/CN=berth test CA")
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    return ca_crt, crt, key


# ---- token server ------------------------------------------------------------

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class TokenServer:
    """Issues RS256 JWTs as Docker Hub's auth server does; pull for anyone, push for the user."""

    def __init__(self, d, user, password):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        self.key_path, self.cert = os.path.join(d, "token.key"), os.path.join(d, "token.crt")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key_path,
                "-out", self.cert, "-days", "2", "-subj", "/CN=berth token issuer")
        with open(self.key_path, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        with open(self.cert, "rb") as f:
            der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
        self.x5c = base64.b64encode(der).decode()
        self.user, self.password = user, password
        self.service, self.issuer = "berth-test-registry", "berth-test-issuer"
        self.requests = []
        self.spoil = 0  # how many of the next tokens to sign badly
        self.port = free_port()
        self.realm = "http://127.0.0.1:%d/token" % self.port
        ts = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                ts.handle(self)

            def do_POST(self):
                ts.handle_oauth(self)

        self.refresh_tokens = set()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, claims):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        sig = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode() + "." + b64url(sig)

    def reply(self, h, status, obj):
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def grant(self, who, scopes):
        access = []
        for s in scopes:
            typ, name, actions = s.split(":", 2) if s.count(":") >= 2 else (s, "", "")
            wanted = actions.split(",")
            granted = [a for a in wanted if a == "pull" or (who and a in ("push", "*"))]
            access.append({"type": typ, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": who or "", "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        token = self.sign(claims)
        if self.spoil > 0:
            self.spoil -= 1
            token = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
        return token

    def handle_oauth(self, h):
        """The OAuth2 refresh-token grant docker uses with identity tokens."""
        n = int(h.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(h.rfile.read(n).decode())
        scopes = form.get("scope", [""])[0].split()
        ok = (form.get("grant_type") == ["refresh_token"] and
              form.get("refresh_token", [""])[0] in self.refresh_tokens)
        self.requests.append({"method": "POST", "scopes": scopes, "user": self.user if ok else "bad",
                              "service": form.get("service", [None])[0],
                              "content_type": h.headers.get("Content-Type")})
        if not ok:
            return self.reply(h, 400, {"error": "invalid_grant"})
        self.reply(h, 200, {"access_token": self.grant(self.user, scopes), "expires_in": 300})

    def handle(self, h):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(h.path).query)
        authz = h.headers.get("Authorization")
        who = None
        if authz:
            raw = base64.b64decode(authz.split(" ", 1)[1]).decode()
            u, _, p = raw.partition(":")
            if (u, p) != (self.user, self.password):
                h.send_response(401)
                h.end_headers()
                self.requests.append({"scopes": q.get("scope", []), "user": "bad"})
                return
            who = u
        self.requests.append({"method": "GET", "scopes": q.get("scope", []), "user": who,
                              "service": q.get("service", [None])[0]})
        answer = {"token": self.grant(who, q.get("scope", [])), "expires_in": 300}
        if who and q.get("offline_token") == ["true"]:
            rt = "rt-" + uuid.uuid4().hex
            self.refresh_tokens.add(rt)
            answer["refresh_token"] = rt
        self.reply(h, 200, answer)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- tests: plain HTTP ---------------------------------------------------------

def test_plain_http_pull_verifies_and_selects_platform(regwork, registries):
    reg = registries(regwork)
    img = build_image(two_platforms=True)
    http_push("http://" + reg.host, "test/busybox", "v1", img)
    ref = reg.host + "/test/busybox:v1"

    out = json.loads(run_client("manifest", ref).stdout)
    assert out["indexDigest"] == img.top_digest
    assert out["digest"] == img.manifests["amd64"]
    assert [l["mediaType"] for l in out["layers"]] == list(LAYER_TYPES.values())

    out = json.loads(run_client("--platform", "linux/arm64", "manifest", ref).stdout)
    assert out["digest"] == img.manifests["arm64"]
    out = json.loads(run_client("--platform", "linux/aarch64/v8", "manifest", ref).stdout)
    assert out["digest"] == img.manifests["arm64"]

    p = run_client("--platform", "linux/s390x", "manifest", ref, check=False)
    assert p.returncode == 1
    assert b"no manifest for platform linux/s390x" in p.stderr
    assert b"linux/amd64, linux/arm64/v8" in p.stderr

    head = run_client("head-manifest", ref).stdout.decode().split()
    assert head == [img.top_digest, OCI_INDEX, str(len(img.blobs[img.top_digest]))]

    # By digest the bytes are checked against the digest asked for.
    raw = run_client("raw-manifest", reg.host + "/test/busybox@" + img.manifests["amd64"]).stdout
    assert sha256(raw) == img.manifests["amd64"]


def test_pull_blobs_then_push_back_byte_identical(regwork, registries):
    reg = registries(regwork)
    img = build_image(two_platforms=True)
    http_push("http://" + reg.host, "src/bb", "latest", img)
    d = os.path.join(regwork, "pulled")
    top = run_client("--all-platforms", "pull-blobs", reg.host + "/src/bb", d).stdout.decode().strip()
    assert top == img.top_digest
    for dig, data in img.blobs.items():
        with open(os.path.join(d, "blobs", "sha256", dig.split(":")[1]), "rb") as f:
            assert f.read() == data, dig
    assert not [n for n in os.listdir(os.path.join(d, "blobs", "sha256")) if n.endswith(".partial")]

    # Push to another repository: blobs mount from the source, manifests keep their bytes.
    p = run_client("--mount-from", "src/bb", "push", d, reg.host + "/dst/bb:copy")
    assert p.stdout.decode().strip() == img.top_digest
    assert b"mounted" in p.stderr
    raw = run_client("raw-manifest", reg.host + "/dst/bb:copy").stdout
    assert raw == img.blobs[img.top_digest]
    # Pushing again finds every blob there.
    p = run_client("push", d, reg.host + "/dst/bb:copy")
    blob_lines = [l for l in p.stderr.decode().splitlines() if l.startswith("sha256:")]
    assert blob_lines and all(l.endswith(": exists") for l in blob_lines)

    # A mount the registry cannot do opens an upload instead: cancelled, then uploaded.
    p = run_client("--mount-from", "no/such", "push", d, reg.host + "/third/bb:x")
    blob_lines = [l for l in p.stderr.decode().splitlines() if l.startswith("sha256:")]
    assert blob_lines and not [l for l in blob_lines if l.endswith(": mounted")]
    pushed = {l.split(": ")[0] for l in blob_lines if l.endswith(": pushed")}
    assert pushed == {l.split(": ")[0] for l in blob_lines}
    assert run_client("raw-manifest", reg.host + "/third/bb:x").stdout == img.blobs[img.top_digest]

    tags = run_client("tags", reg.host + "/dst/bb").stdout.decode().split()
    assert tags == ["copy"]
    repos = run_client("catalog", reg.host).stdout.decode().split()
    assert "src/bb" in repos and "dst/bb" in repos and "third/bb" in repos


def test_chunked_upload_and_docker_schema2(regwork, registries):
    reg = registries(regwork)
    img = build_image(docker=True)
    src = os.path.join(regwork, "img")
    img.write_dir(src)
    p = run_client("--chunk", "100000", "push", src, reg.host + "/chunked/bb:v2")
    assert p.stdout.decode().strip() == img.top_digest
    # Upload progress reaches the blob's size, in several steps for the big layer.
    progress = {}
    for line in p.stderr.decode().splitlines():
        if line.startswith("progress "):
            dig, rest = line[len("progress "):].split(": ")
            counts, _, steps = rest.partition(" in ")
            progress[dig] = (counts, int(steps.split()[0]))
    for dig, data in img.blobs.items():
        if dig != img.top_digest:
            assert progress[dig][0] == "%d/%d" % (len(data), len(data)), dig
    assert max(steps for _, steps in progress.values()) > 10
    out = json.loads(run_client("manifest", reg.host + "/chunked/bb:v2").stdout)
    assert out["mediaType"] == DOCKER_MANIFEST
    assert out["digest"] == img.top_digest
    assert out["indexDigest"] is None
    blob = [d for d in img.blobs if len(img.blobs[d]) > 1000000][0]
    got = run_client("blob", reg.host + "/chunked/bb", blob, str(len(img.blobs[blob]))).stdout
    assert got == img.blobs[blob]


def test_ipv6_loopback_registry(regwork, registries):
    reg = registries(regwork, ip="::1")
    img = build_image()
    src = os.path.join(regwork, "img")
    img.write_dir(src)
    assert reg.host.startswith("[::1]:")
    run_client("push", src, reg.host + "/v6/bb:1")
    out = json.loads(run_client("manifest", reg.host + "/v6/bb:1").stdout)
    assert out["digest"] == img.top_digest


def test_missing_manifest_is_a_clear_error(regwork, registries):
    reg = registries(regwork)
    p = run_client("manifest", reg.host + "/nothing/here:v9", check=False)
    assert p.returncode == 1
    assert b"nothing/here:v9" in p.stderr
    assert b"manifest unknown" in p.stderr


# ---- tests: TLS ----------------------------------------------------------------

def test_tls_needs_the_ca_from_certs_d(regwork, registries):
    ca, crt, key = make_ca_and_server_cert(regwork)
    reg = registries(regwork, tls=(crt, key))
    img = build_image()
    certs = os.path.join(regwork, "certs.d")
    os.makedirs(os.path.join(certs, reg.host))
    shutil.copy(ca, os.path.join(certs, reg.host, "ca.crt"))
    src = os.path.join(regwork, "img")
    img.write_dir(src)

    # Without the CA: a certificate error, and no silent retry over plain http.
    p = run_client("push", src, reg.host + "/tls/bb:1", check=False)
    assert p.returncode == 1
    assert b"certificate" in p.stderr.lower()

    run_client("--certs-dir", certs, "push", src, reg.host + "/tls/bb:1")
    out = json.loads(run_client("--certs-dir", certs, "manifest", reg.host + "/tls/bb:1").stdout)
    assert out["digest"] == img.top_digest

    # Listed as insecure, the certificate is not checked.
    out = json.loads(run_client("--insecure", reg.host, "manifest", reg.host + "/tls/bb:1").stdout)
    assert out["digest"] == img.top_digest


def test_tls_client_certificate_from_certs_d(regwork, registries):
    ca, crt, key = make_ca_and_server_cert(regwork)
    reg = registries(regwork, tls=(crt, key), client_ca=ca)
    ckey, ccsr, ccert = (os.path.join(regwork, n) for n in ("c.key", "c.csr", "c.cert"))
    ext = os.path.join(regwork, "client-ext.cnf")
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", ckey, "-out", ccsr,
            "-subj", "/CN=berth client")
    openssl("x509", "-req", "-in", ccsr, "-CA", ca, "-CAkey", os.path.join(regwork, "ca.key"),
            "-CAcreateserial", "-out", ccert, "-days", "2", "-extfile", ext)
    only_ca, with_pair = os.path.join(regwork, "only-ca"), os.path.join(regwork, "with-pair")
    for d in (only_ca, with_pair):
        os.makedirs(os.path.join(d, reg.host))
        shutil.copy(ca, os.path.join(d, reg.host, "ca.crt"))
    shutil.copy(ccert, os.path.join(with_pair, reg.host, "client.cert"))
    shutil.copy(ckey, os.path.join(with_pair, reg.host, "client.key"))
    img = build_image()
    src = os.path.join(regwork, "img")
    img.write_dir(src)

    p = run_client("--attempts", "1", "--certs-dir", only_ca, "push", src,
                   reg.host + "/mtls/bb:1", check=False)
    assert p.returncode == 1
    assert reg.host.encode() in p.stderr
    assert b"status 400" not in p.stderr  # no confusing plain-http attempt reported

    run_client("--certs-dir", with_pair, "push", src, reg.host + "/mtls/bb:1")
    out = json.loads(run_client("--certs-dir", with_pair, "manifest",
                                reg.host + "/mtls/bb:1").stdout)
    assert out["digest"] == img.top_digest


# ---- tests: Basic auth ---------------------------------------------------------

def test_htpasswd_basic_auth(regwork, registries):
    htp = os.path.join(regwork, "htpasswd")
    subprocess.run(["htpasswd", "-B", "-b", "-c", htp, "alice", "s3cret"], check=True,
                   capture_output=True)
    reg = registries(regwork, htpasswd=htp)
    img = build_image()
    src = os.path.join(regwork, "img")
    img.write_dir(src)

    p = run_client("push", src, reg.host + "/basic/bb:1", check=False)
    assert p.returncode == 1 and b"unauthorized" in p.stderr

    p = run_client("--user", "alice", "--password", "wrong", "push", src, reg.host + "/basic/bb:1",
                   check=False)
    assert p.returncode == 1 and b"unauthorized" in p.stderr

    run_client("--user", "alice", "--password", "s3cret", "push", src, reg.host + "/basic/bb:1")
    out = json.loads(run_client("--user", "alice", "--password", "s3cret", "manifest",
                                reg.host + "/basic/bb:1").stdout)
    assert out["digest"] == img.top_digest


# ---- tests: Bearer tokens ------------------------------------------------------

@pytest.fixture
def token_registry(regwork, registries):
    ts = TokenServer(regwork, "bob", "hunter2")
    reg = registries(regwork, token=ts)
    yield reg, ts
    ts.stop()


def test_bearer_token_push_and_anonymous_pull(regwork, token_registry):
    reg, ts = token_registry
    img = build_image(two_platforms=True)
    src = os.path.join(regwork, "img")
    img.write_dir(src)

    # Anonymous tokens carry pull only: the push is refused.
    p = run_client("push", src, reg.host + "/tok/bb:1", check=False)
    assert p.returncode == 1
    assert b"unauthorized" in p.stderr or b"denied" in p.stderr

    p = run_client("--user", "bob", "--password", "wrong", "push", src, reg.host + "/tok/bb:1",
                   check=False)
    assert p.returncode == 1 and b"incorrect username or password" in p.stderr

    ts.requests.clear()
    run_client("--user", "bob", "--password", "hunter2", "push", src, reg.host + "/tok/bb:1")
    assert ts.requests and all(r["user"] == "bob" for r in ts.requests)
    assert all(r["service"] == ts.service for r in ts.requests)
    assert ["repository:tok/bb:pull,push"] in [r["scopes"] for r in ts.requests]
    # One token serves the whole push: cached per scope, not fetched per request.
    assert len(ts.requests) == 1

    ts.requests.clear()
    d = os.path.join(regwork, "pulled")
    run_client("--all-platforms", "pull-blobs", reg.host + "/tok/bb:1", d)
    assert [r["user"] for r in ts.requests] == [None]
    assert ts.requests[0]["scopes"] == ["repository:tok/bb:pull"]

    # Cross-repository mount asks for pull on the source too.
    ts.requests.clear()
    p = run_client("--user", "bob", "--password", "hunter2", "--mount-from", "tok/bb",
                   "push", d, reg.host + "/tok/copy:1")
    assert b"mounted" in p.stderr
    assert any("repository:tok/bb:pull" in r["scopes"] for r in ts.requests)


def test_bearer_token_refreshed_after_401(regwork, token_registry):
    reg, ts = token_registry
    img = build_image()
    src = os.path.join(regwork, "img")
    img.write_dir(src)
    run_client("--user", "bob", "--password", "hunter2", "push", src, reg.host + "/tok/r:1")
    ts.requests.clear()
    ts.spoil = 1  # the registry refuses the first token: the client must fetch another, once
    out = json.loads(run_client("manifest", reg.host + "/tok/r:1").stdout)
    assert out["digest"] == img.top_digest
    assert len(ts.requests) == 2

    ts.requests.clear()
    ts.spoil = 100  # every token is refused: the client gives up after one refresh
    p = run_client("manifest", reg.host + "/tok/r:1", check=False)
    assert p.returncode == 1 and b"unauthorized" in p.stderr
    assert len(ts.requests) == 2


def test_login_basic(regwork, registries):
    htp = os.path.join(regwork, "htpasswd")
    subprocess.run(["htpasswd", "-B", "-b", "-c", htp, "alice", "s3cret"], check=True,
                   capture_output=True)
    reg = registries(regwork, htpasswd=htp)
    p = run_client("--user", "alice", "--password", "s3cret", "login", reg.host)
    assert p.stdout == b"Login Succeeded\n"
    p = run_client("--user", "alice", "--password", "nope", "login", reg.host, check=False)
    assert p.returncode == 1
    assert b"login to '%s': unauthorized: incorrect username or password" % reg.host.encode() \
        in p.stderr
    p = run_client("login", reg.host, check=False)
    assert p.returncode == 1 and b"no credentials" in p.stderr


def test_login_token_and_identity_token(regwork, token_registry):
    reg, ts = token_registry
    p = run_client("--user", "bob", "--password", "nope", "login", reg.host, check=False)
    assert p.returncode == 1 and b"incorrect username or password" in p.stderr
    p = run_client("--user", "bob", "--password", "hunter2", "login", reg.host)
    lines = p.stdout.decode().split()
    assert lines[:2] == ["Login", "Succeeded"]
    identity = lines[2]
    assert identity in ts.refresh_tokens

    # The identity token alone (no password) gets push tokens through the OAuth2 grant.
    img = build_image()
    src = os.path.join(regwork, "img")
    img.write_dir(src)
    ts.requests.clear()
    run_client("--identity-token", identity, "push", src, reg.host + "/idt/bb:1")
    assert ts.requests and all(r["method"] == "POST" and r["user"] == "bob" for r in ts.requests)
    assert ts.requests[0]["scopes"] == ["repository:idt/bb:pull,push"]
    assert ts.requests[0]["content_type"] == "application/x-www-form-urlencoded"

    p = run_client("--identity-token", "rt-forged", "manifest", reg.host + "/idt/bb:1",
                   check=False)
    assert p.returncode == 1 and b"identity token refused" in p.stderr


# ---- the lying registry --------------------------------------------------------

class Liar:
    """A registry that misbehaves as told: serves `blob` under `digest` with tricks."""

    def __init__(self, host="127.0.0.1", require_basic=None):
        self.blob = os.urandom(300 * 1024)
        self.digest = sha256(self.blob)
        self.mode = "ok"
        self.hits = []
        self.fail_left = 0
        self.require_basic = require_basic
        self.redirect_to = None
        self.manifest = None
        liar = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                liar.handle(self)

            do_HEAD = do_GET

        self.httpd = http.server.ThreadingHTTPServer((host, free_port(host)), H)
        self.httpd.daemon_threads = True
        self.host = "%s:%d" % (host, self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def send(self, h, status, body=b"", headers=()):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h):
        self.hits.append({"path": h.path, "headers": dict(h.headers)})
        if self.mode == "401-loop":
            hdr = 'Bearer realm="http://%s/token",service="liar"' % self.host
            if h.path.startswith("/token"):
                return self.send(h, 200, b'{"token":"useless"}')
            return self.send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"nope"}]}',
                             [("WWW-Authenticate", hdr)])
        if self.require_basic and h.headers.get("Authorization") != self.require_basic:
            return self.send(h, 401, b"", [("WWW-Authenticate", 'Basic realm="liar"')])
        if h.path == "/v2/":
            return self.send(h, 200, b"{}")
        if h.path.startswith("/v2/_catalog"):
            if "last=b" in h.path:
                return self.send(h, 200, b'{"repositories":["c"]}')
            return self.send(h, 200, b'{"repositories":["a","b"]}',
                             [("Link", '</v2/_catalog?last=b&n=2>; rel="next"')])
        if "/manifests/" in h.path:
            return self.send(h, 200, self.manifest,
                             [("Content-Type", OCI_MANIFEST),
                              ("Docker-Content-Digest", sha256(b"something else"))])
        if "/blobs/" not in h.path:
            return self.send(h, 404)
        if self.mode == "redirect":
            return self.send(h, 307, b"", [("Location", self.redirect_to)])
        if self.mode == "flaky" and self.fail_left > 0:
            self.fail_left -= 1
            return self.send(h, 503, b"busy")
        if self.mode == "rate-limited" and self.fail_left > 0:
            self.fail_left -= 1
            return self.send(h, 429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                             [("Retry-After", "1")])
        if self.mode == "wrong-digest":
            return self.send(h, 200, bytes(len(self.blob)))
        rng = h.headers.get("Range")
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        if self.mode == "ignore-range":
            start = 0
        data = self.blob[start:]
        if self.mode == "reset-once" and not rng:
            # Half the body, then a TCP reset (SO_LINGER 0), as a dropped connection looks.
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[:len(data) // 2])
            h.wfile.flush()
            time.sleep(0.3)  # let the client read what was sent: a reset drops unread data
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if self.mode in ("truncate-once", "ignore-range") and not rng:
            # Promise everything, deliver a third, drop the connection.
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[:len(data) // 3])
            h.wfile.flush()
            h.close_connection = True
            return
        if self.mode == "truncate-always":
            h.send_response(206 if start else 200)
            if start:
                h.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(self.blob) - 1,
                                                                   len(self.blob)))
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[:min(len(data), 1000)])
            h.wfile.flush()
            h.close_connection = True
            return
        if self.mode == "slow":
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            try:
                for i in range(0, len(data), 4096):
                    h.wfile.write(data[i:i + 4096])
                    h.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
        if self.mode == "stall":
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.flush()
            time.sleep(8)
            return
        if start:
            return self.send(h, 206, data, [("Content-Range", "bytes %d-%d/%d" % (
                start, len(self.blob) - 1, len(self.blob)))])
        return self.send(h, 200, data)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def liars():
    made = []

    def make(*a, **kw):
        l = Liar(*a, **kw)
        made.append(l)
        return l

    yield make
    for l in made:
        l.stop()


def fetch(liar, *extra, check=False):
    return run_client("--backoff-ms", "20", *extra, "blob", liar.host + "/lie/x", liar.digest,
                      str(len(liar.blob)), check=check)


def test_mirror_errors_show_when_the_origin_cannot_be_reached(regwork, registries, liars):
    """docker.io through a mirror that answers with an error while the origin cannot
    be reached: the user reads the mirror's answer first, then the origin's failure."""
    mirror = registries(regwork)
    dead_host = "127.0.0.1:%d" % free_port()
    p = run_client("--attempts", "1", "--mirror", "http://" + mirror.host, "--docker-io",
                   "http://" + dead_host, "manifest", "docker.io/library/nosuch:latest",
                   check=False)
    err = p.stderr.decode()
    assert p.returncode == 1
    assert err.startswith(
        "berth-regclient: docker.io/library/nosuch:latest: mirror %s: get manifest: manifest "
        "unknown (MANIFEST_UNKNOWN, status 404); registry '%s': " % (mirror.host, dead_host)), err
    assert "Couldn't connect to server" in err and len(err.splitlines()) == 1, err

    liar = liars()
    liar.manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": {"mediaType": OCI_CONFIG, "digest": liar.digest,
                                           "size": 1}, "layers": []}).encode()
    p = run_client("--attempts", "1", "--mirror", "http://" + liar.host, "--docker-io",
                   "http://" + dead_host, "manifest", "docker.io/lie/x:1", check=False)
    err = p.stderr.decode()
    assert p.returncode == 1
    assert err.startswith("berth-regclient: docker.io/lie/x:1: mirror %s: manifest '1': digest "
                          "mismatch: registry says %s" % (liar.host, sha256(b"something else"))), err

    # a blob the mirror serves at another size than asked for
    p = run_client("--attempts", "1", "--mirror", "http://" + liar.host, "--docker-io",
                   "http://" + dead_host, "blob", "docker.io/lie/x", liar.digest,
                   str(len(liar.blob) + 10), check=False)
    err = p.stderr.decode()
    assert p.returncode == 1
    assert err.startswith("berth-regclient: blob %s: mirror %s: size mismatch: " %
                          (liar.digest, liar.host)), err


def test_blob_of_another_size_is_refused_at_once(liars):
    """A blob whose declared size (the manifest's) is not what the registry serves is
    refused with "size mismatch" on the first answer, bigger or smaller, without
    Range retries."""
    liar = liars()
    n = len(liar.blob)
    for declared in (n + 100, n - 100):
        liar.hits.clear()
        t0 = time.time()
        p = run_client("--backoff-ms", "200", "blob", liar.host + "/lie/x", liar.digest,
                       str(declared), check=False)
        assert p.returncode == 1
        assert p.stderr.decode() == (
            "berth-regclient: blob %s: size mismatch: the registry has %d bytes, %d expected\n"
            % (liar.digest, n, declared))
        assert len([h for h in liar.hits if "/blobs/" in h["path"]]) == 1
        assert time.time() - t0 < 2


def test_catalog_follows_link_pages(liars):
    liar = liars()
    assert run_client("catalog", liar.host).stdout.decode().split() == ["a", "b", "c"]


def test_wrong_digest_is_refused(liars):
    liar = liars()
    liar.mode = "wrong-digest"
    p = fetch(liar)
    assert p.returncode == 1
    assert b"digest mismatch" in p.stderr and liar.digest.encode() in p.stderr


def test_manifest_digest_header_must_match_content(liars):
    liar = liars()
    liar.manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": {"mediaType": OCI_CONFIG, "digest": liar.digest,
                                           "size": 1}, "layers": []}).encode()
    p = run_client("manifest", liar.host + "/lie/x:1", check=False)
    assert p.returncode == 1
    assert b"digest mismatch" in p.stderr
    p = run_client("raw-manifest", liar.host + "/lie/x@" + sha256(b"other"), check=False)
    assert p.returncode == 1 and b"digest mismatch" in p.stderr


def test_truncated_blob_resumes_with_range(liars):
    liar = liars()
    liar.mode = "truncate-once"
    p = fetch(liar, check=True)
    assert p.stdout == liar.blob
    ranges = [h["headers"].get("Range") for h in liar.hits if "/blobs/" in h["path"]]
    assert ranges[0] is None and ranges[1] == "bytes=%d-" % (len(liar.blob) // 3)


def test_reset_connection_resumes_with_range(liars):
    liar = liars()
    liar.mode = "reset-once"
    p = fetch(liar, check=True)
    assert p.stdout == liar.blob
    ranges = [h["headers"].get("Range") for h in liar.hits if "/blobs/" in h["path"]]
    assert len(ranges) == 2 and ranges[1].startswith("bytes=")
    assert int(ranges[1][len("bytes="):-1]) > 0


def test_resume_when_server_ignores_range(liars):
    liar = liars()
    liar.mode = "ignore-range"
    p = fetch(liar, check=True)
    assert p.stdout == liar.blob  # each byte exactly once


def test_always_truncated_blob_fails_after_bounded_retries(liars):
    liar = liars()
    liar.mode = "truncate-always"
    p = fetch(liar, "--attempts", "3")
    assert p.returncode == 1
    assert len([h for h in liar.hits if "/blobs/" in h["path"]]) == 3
    assert liar.digest.encode() in p.stderr


def test_500s_then_success(liars):
    liar = liars()
    liar.mode = "flaky"
    liar.fail_left = 2
    p = fetch(liar, check=True)
    assert p.stdout == liar.blob
    assert len([h for h in liar.hits if "/blobs/" in h["path"]]) == 3

    liar.fail_left = 10
    p = fetch(liar, "--attempts", "3")
    assert p.returncode == 1 and b"503" in p.stderr


def test_429_is_retried(liars):
    liar = liars()
    liar.mode = "rate-limited"
    liar.fail_left = 1
    p = fetch(liar, check=True)
    assert p.stdout == liar.blob
    liar.fail_left = 10
    liar.hits.clear()
    p = fetch(liar, "--attempts", "2")
    assert p.returncode == 1 and b"slow down" in p.stderr
    assert len([h for h in liar.hits if "/blobs/" in h["path"]]) == 2


def test_401_loop_stops(liars):
    liar = liars()
    liar.mode = "401-loop"
    p = fetch(liar)
    assert p.returncode == 1
    assert b"unauthorized" in p.stderr
    assert len([h for h in liar.hits if "/blobs/" in h["path"]]) == 2


def test_credentials_do_not_follow_redirect_to_other_host(liars):
    basic = "Basic " + base64.b64encode(b"carol:pw").decode()
    liar = liars(require_basic=basic)
    storage = liars(host="127.0.0.2")
    storage.blob, storage.digest = liar.blob, liar.digest
    liar.mode = "redirect"
    liar.redirect_to = "http://%s/storage/blobs/x?sig=1" % storage.host
    p = fetch(liar, "--user", "carol", "--password", "pw", check=True)
    assert p.stdout == liar.blob
    blob_hits = [h for h in liar.hits if "/blobs/" in h["path"]]
    assert blob_hits and all(h["headers"].get("Authorization") == basic for h in blob_hits)
    assert storage.hits
    assert all("Authorization" not in h["headers"] for h in storage.hits)


def test_sink_error_is_final(liars):
    liar = liars()
    p = fetch(liar, "--sink-fail-after", "1000")
    assert p.returncode == 1
    assert b"sink full after 1000 bytes" in p.stderr
    assert len([h for h in liar.hits if "/blobs/" in h["path"]]) == 1  # no retry


def test_cancel_stops_a_transfer(liars):
    liar = liars()
    liar.mode = "slow"
    t0 = time.time()
    p = fetch(liar, "--cancel-after", "20000")
    assert p.returncode == 1 and b"cancelled" in p.stderr
    assert time.time() - t0 < 10


def test_stalled_transfer_times_out(liars):
    liar = liars()
    liar.mode = "stall"
    t0 = time.time()
    p = fetch(liar, "--attempts", "1", "--low-speed-time", "2")
    assert p.returncode == 1
    assert time.time() - t0 < 6
    assert b"timeout" in p.stderr.lower() or b"too slow" in p.stderr.lower()


def test_docker_io_mirror_first_then_origin(regwork, registries):
    origin = registries(regwork)
    mirror = registries(regwork)
    img = build_image()
    http_push("http://" + origin.host, "library/bb", "latest", img)
    # The mirror is down: the origin answers.
    dead = "http://127.0.0.1:%d" % free_port()
    out = json.loads(run_client("--mirror", dead, "--docker-io", "http://" + origin.host,
                                "manifest", "docker.io/library/bb:latest").stdout)
    assert out["digest"] == img.top_digest
    # The mirror has it and the origin does not exist: the mirror answers.
    http_push("http://" + mirror.host, "library/bb", "latest", img)
    origin.stop()
    d = os.path.join(regwork, "viamirror")
    run_client("--mirror", "http://" + mirror.host, "--docker-io", "http://" + origin.host,
               "pull-blobs", "docker.io/library/bb", d)
    assert os.path.exists(os.path.join(d, "blobs", "sha256", img.top_digest.split(":")[1]))
