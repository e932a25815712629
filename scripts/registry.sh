#!/bin/sh
# Starts/stops a throwaway CNCF Distribution registry on 127.0.0.1 (plain HTTP, storage
# in a temp dir).  `start` prints "HOST:PORT DIR"; `stop DIR` kills it and removes DIR.
# See scripts/registry.py.
exec /usr/bin/python3 "$(dirname "$0")/registry.py" "$@"
