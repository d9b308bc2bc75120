#!/usr/bin/env bash
# Runs a test suite and prints how long it took: timed.sh NAME COMMAND...
set -uo pipefail
name=${1:?suite name}; shift
started=$(date +%s)
"$@"
rc=$?
echo "== suite $name: $(( $(date +%s) - started )) s (exit $rc)"
exit $rc
