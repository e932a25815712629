"""benchimage — the python image the pull benchmarks use, pushed to a throwaway registry.

How: scripts/python-image.sh builds (or takes from its cache) the image and pushes
it, gzip layers as library/python:latest and zstd layers as library/python:zstd;
image_facts reads back, over plain HTTP from the registry, the diff_ids and the
compressed size a pulled image must match.  Never pushes anywhere but the registry
given.
"""
import json
import os
import subprocess
import sys
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TAGS = {"gzip": "latest", "zstd": "zstd"}
ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])


def fetch_json(url):
    req = urllib.request.Request(url, headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def image_facts(host, tag):
    """(diff_ids, compressed layer bytes) of the amd64 image behind a tag."""
    base = "http://%s/v2/library/python" % host
    doc = fetch_json("%s/manifests/%s" % (base, tag))
    if "manifests" in doc:
        amd = [m for m in doc["manifests"] if m["platform"]["architecture"] == "amd64"][0]
        doc = fetch_json("%s/manifests/%s" % (base, amd["digest"]))
    cfg = fetch_json("%s/blobs/%s" % (base, doc["config"]["digest"]))
    return cfg["rootfs"]["diff_ids"], sum(l["size"] for l in doc["layers"])


def push_image(host, variant):
    argv = [os.path.join(REPO, "scripts", "python-image.sh"), "--registry", host,
            "--tag", TAGS[variant]] + (["--zstd"] if variant == "zstd" else [])
    p = subprocess.run(argv, stdout=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.exit("bench: %s failed (%d)" % (" ".join(argv), p.returncode))
