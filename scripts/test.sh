#!/usr/bin/env bash
# The whole test suite, from nothing: installs what is missing, builds twice
# (normal and ASan+UBSan), runs the Check unit tests in both, replays the
# libFuzzer corpora, then runs the pytest integration tests as root.
# Usage: scripts/test.sh [pytest args…]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" != 0 ]; then
  echo "test.sh: the tests create namespaces, mounts and cgroups: run as root" >&2
  exit 2
fi
scripts/deps.sh test

step() { printf '\n=== %s\n' "$*"; }

step "build (debugoptimized)"
[ -d build ] || meson setup build
ninja -C build

step "unit tests"
meson test -C build --suite unit --print-errorlogs

step "build and unit tests under ASan+UBSan"
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs

step "fuzz targets replayed over their corpora"
[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=disabled \
  -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-fuzz
for t in build-fuzz/tests/fuzz/fuzz-*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  name=$(basename "$t")
  corpus=tests/fuzz/corpus-${name#fuzz-}
  echo "$name over $corpus"
  "$t" -runs=0 "$corpus"
  # A short bounded random run on top of the corpus: catches regressions the corpus misses.
  # New inputs go to a scratch dir, never into the committed corpus.
  scratch=$(mktemp -d)
  "$t" -max_total_time=20 -rss_limit_mb=2048 -seed=1 -artifact_prefix="$scratch/" "$scratch" "$corpus" 2>&1 | tail -n 2
  rm -rf "$scratch"
done

step "integration tests (pytest)"
export BERTH_BUILD="$top/build"
exec /usr/bin/python3 -m pytest -p no:cacheprovider -ra "$@" tests/integration
