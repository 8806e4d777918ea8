#!/usr/bin/env bash
# Every pinned runtime requirement must exist as a wheel for the image's other architecture (arm64), so
# the Dockerfile builds there from wheels alone (python:3.11-slim has no compiler). x86_64 is proven
# by the image build itself. Usage: ci/check_wheels.sh [python]   (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${1:-.venv/bin/python}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
# python:3.11-slim is Debian 12 (glibc 2.36): manylinux_2_28 wheels and older ones fit.
if ! "$python" -m pip download --quiet --disable-pip-version-check --dest "$dest" \
    --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
    --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 \
    -r requirements.txt 2>"$dest/pip.log"; then
    grep -E '^ERROR' "$dest/pip.log" | grep -v 'require a different python version' >&2 || tail -n 5 "$dest/pip.log" >&2
    echo "check_wheels: requirements.txt has a package without an arm64 (aarch64) wheel" >&2
    exit 1
fi
echo "check_wheels: all $(ls "$dest" | grep -c '\.whl$') wheels of requirements.txt exist for arm64 (aarch64)"
