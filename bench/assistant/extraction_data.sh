#!/usr/bin/env sh
# Fetches trafilatura's evaluation set (Apache-2.0, adbar/trafilatura tests/) into DIR
# (default /work/shared/data/extraction/trafilatura-eval): evaldata.json, eval/ and cache/.
# The data stays out of this repository. Pinned to the commit the published numbers used.
set -eu
DIR="${1:-/work/shared/data/extraction/trafilatura-eval}"
COMMIT="e90b0ef51ab026fdb905fb6c5b3c84dd3d784fd5"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
git -C "$TMP" init -q
git -C "$TMP" remote add origin https://github.com/adbar/trafilatura.git
git -C "$TMP" fetch -q --depth 1 --filter=blob:none origin "$COMMIT"
git -C "$TMP" sparse-checkout set --no-cone /tests/eval/ /tests/cache/ /tests/evaldata.json
git -C "$TMP" checkout -q FETCH_HEAD
mkdir -p "$DIR"
cp -r "$TMP/tests/eval" "$TMP/tests/cache" "$TMP/tests/evaldata.json" "$DIR/"
echo "trafilatura evaluation set at $DIR ($(ls "$DIR/eval" | wc -l) + $(ls "$DIR/cache" | wc -l) pages)"
