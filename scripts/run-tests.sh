#!/usr/bin/env bash
# Runs the test suite on SQLite, then on PostgreSQL.
# With CI=true the PostgreSQL run is mandatory; elsewhere it is skipped with a visible notice when no server answers.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_TEST_URL="${PG_TEST_URL:-postgres://postgres@127.0.0.1:5432/jichitai}"

echo "=== tests on SQLite ==="
env -u DATABASE_URL $PY -m pytest "$@"
sqlite_rc=$?

pg_up=0
if $PY - "$PG_TEST_URL" <<'PYEOF' >/dev/null 2>&1
import sys, psycopg
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
psycopg.connect(host=u.hostname, port=u.port or 5432, user=u.username, dbname="postgres", connect_timeout=3).close()
PYEOF
then pg_up=1; fi

pg_rc=0
if [ "$pg_up" = 1 ]; then
  echo "=== tests on PostgreSQL ($PG_TEST_URL) ==="
  DATABASE_URL="$PG_TEST_URL" $PY -m pytest "$@"
  pg_rc=$?
elif [ "${CI:-}" = "true" ]; then
  echo "!!! PostgreSQL is not reachable at $PG_TEST_URL and CI=true: the PostgreSQL run is mandatory in CI." >&2
  pg_rc=1
else
  echo "*** NOTICE: PostgreSQL not reachable at $PG_TEST_URL — PostgreSQL test run SKIPPED (mandatory in CI). ***" >&2
fi

if [ $sqlite_rc -ne 0 ] || [ $pg_rc -ne 0 ]; then
  echo "FAILED: sqlite rc=$sqlite_rc postgres rc=$pg_rc" >&2
  exit 1
fi
exit 0
