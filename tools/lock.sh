#!/usr/bin/env bash
# Regenerate constraints.txt, the lock of the whole build stack, from requirements.txt.
# uv runs from a throw-away environment (nothing is installed into .venv). The lock is universal
# (markers for every platform) for the oldest Python the book supports (pyproject's requires-python).
set -euo pipefail
cd "$(dirname "$0")/.."
floor="$(python3 -c 'import re; print(re.search(r"requires-python\s*=\s*\">=\s*([0-9.]+)\"", open("pyproject.toml").read()).group(1))')"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet "uv==${UV_VERSION:-0.13.9}"
"$tmp/venv/bin/uv" pip compile requirements.txt --universal --python-version "$floor" \
  --annotation-style line --custom-compile-command "tools/lock.sh" -o constraints.txt "$@"
