#!/usr/bin/env bash
# The benchmark's Python virtualenv (target/benchenv): the pgvector clients plus hnswlib
# and matplotlib, pinned in bench/requirements.txt. Prints the path of its python.
set -euo pipefail
venv=${BENCHENV_DIR:-$(pwd)/target/benchenv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import psycopg, pgvector, numpy, hnswlib, matplotlib" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt >&2
fi
echo "$venv/bin/python"
