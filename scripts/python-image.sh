#!/bin/sh
# Builds a python image from Debian packages (debootstrap, cached) and pushes it to a
# plain-HTTP registry on loopback.  See scripts/python-image.py for how.
# usage: scripts/python-image.sh --registry 127.0.0.1:5000 [--zstd] [--tag T]
exec /usr/bin/python3 "$(dirname "$0")/python-image.py" "$@"
