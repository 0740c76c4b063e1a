#!/bin/sh
# Regrade the example submissions whose result.json files tests/test_browser.py renders.
# Run after a change to the result schema: smoke budget, synthetic data, a throwaway cache.
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
names="full_marks name_error not_frozen"
for name in $names; do
    set -- "$@" "assignments/cifar10_transfer/submissions/$name.ipynb"
done
GRADER_CACHE_DIR="$out/cache" KERAS_HOME="$out/keras-home" \
    ${PYTHON:-python} -m grader grade "$@" --assignment cifar10_transfer --budget smoke --out "$out"
for name in $names; do
    cp "$out/$name/result.json" "tests/files/results/$name.json"
done
