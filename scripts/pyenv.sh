#!/usr/bin/env bash
# A Python virtualenv with the real pgvector clients (psycopg 3, psycopg 2, asyncpg,
# SQLAlchemy 2, pgvector), numpy and pytest, in target/pyenv. Prints the path of its python.
set -euo pipefail
venv=${PYENV_DIR:-$(pwd)/target/pyenv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import psycopg, psycopg2, asyncpg, sqlalchemy, pgvector, numpy, pytest" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/client/requirements.txt >&2
fi
echo "$venv/bin/python"
