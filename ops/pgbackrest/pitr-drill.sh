#!/usr/bin/env bash
# Point-in-time recovery drill with pgBackRest (Debian package `pgbackrest`), on a PostgreSQL instance of its own:
# initdb in a temporary directory, a free port on 127.0.0.1, WAL archived by pgBackRest into an encrypted
# repository, a full backup, rows committed before a chosen time, an "accident" after it (a table dropped),
# restore to that time, check that the rows before it are back and the accident undone, stop everything.
# Everything is removed on exit, also on failure (trap). Run as root (the server runs as `postgres`) or as postgres.
#   bash ops/pgbackrest/pitr-drill.sh            prints one JSON line: {"ok", "restored_rows", "seconds", …}
set -euo pipefail
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
command -v pgbackrest >/dev/null || { echo "pgbackrest missing: apt-get install pgbackrest (make env-ha)" >&2; exit 2; }
RUN=(); [ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
D="$(mktemp -d /tmp/jichitai-pitr-XXXXXX)"; chmod 755 "$D"; [ "$(id -u)" = 0 ] && chown postgres: "$D"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
START=$(date +%s.%N)
cleanup() {
  "${RUN[@]}" "$BIN/pg_ctl" -D "$D/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] && echo "kept $D" >&2 || rm -rf "$D"
}
trap cleanup EXIT
as_pg() { "${RUN[@]}" "$@"; }
psql_() { as_pg "$BIN/psql" -X -q -h "$D" -p "$PORT" -U postgres -d postgres -At -v ON_ERROR_STOP=1 -c "$1"; }

# the repository's cipher passphrase would come from a secret store in production (ops/pgbackrest/pgbackrest.conf)
PASS="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
as_pg tee "$D/pgbackrest.conf" >/dev/null <<CONF
[global]
repo1-path=$D/repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$PASS
repo1-retention-full=2
log-path=$D/log
lock-path=$D/lock
spool-path=$D/spool
log-level-console=warn
start-fast=y
archive-async=n

[drill]
pg1-path=$D/pg
pg1-port=$PORT
pg1-socket-path=$D
CONF
as_pg mkdir -p "$D/log" "$D/lock" "$D/spool" "$D/repo"
BR=(pgbackrest --config="$D/pgbackrest.conf" --stanza=drill)

as_pg "$BIN/initdb" -D "$D/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null
as_pg tee -a "$D/pg/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$D'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$D/pgbackrest.conf --stanza=drill archive-push %p'
max_wal_senders = 3
CONF
as_pg "$BIN/pg_ctl" -D "$D/pg" -l "$D/pg.log" -w start >/dev/null
as_pg "${BR[@]}" stanza-create
as_pg "${BR[@]}" check
psql_ "CREATE TABLE ido (id serial PRIMARY KEY, what text, at timestamptz DEFAULT now())"
psql_ "INSERT INTO ido (what) SELECT '転居 ' || g FROM generate_series(1, 1000) g"
as_pg "${BR[@]}" backup --type=full >/dev/null
psql_ "INSERT INTO ido (what) SELECT '出生 ' || g FROM generate_series(1, 500) g"   # after the backup: only in WAL
sleep 1
TARGET="$(psql_ "SELECT now()")"
sleep 1
psql_ "DROP TABLE ido"                                                           # the accident
psql_ "SELECT pg_switch_wal()" >/dev/null
as_pg "${BR[@]}" check >/dev/null                                                # waits until the WAL is archived
as_pg "$BIN/pg_ctl" -D "$D/pg" -m fast -w stop >/dev/null

as_pg "${BR[@]}" restore --delta --type=time "--target=$TARGET" --target-action=promote >/dev/null
as_pg "$BIN/pg_ctl" -D "$D/pg" -l "$D/pg.log" -w start >/dev/null
for _ in $(seq 1 60); do [ "$(psql_ 'SELECT pg_is_in_recovery()')" = f ] && break; sleep 0.5; done
ROWS="$(psql_ "SELECT count(*) FROM ido")"
LATEST="$(psql_ "SELECT count(*) FROM ido WHERE what LIKE '出生%'")"
END=$(date +%s.%N)
OK=false; [ "$ROWS" = 1500 ] && [ "$LATEST" = 500 ] && OK=true
printf '{"ok": %s, "restored_rows": %s, "rows_only_in_wal": %s, "target": "%s", "seconds": %.1f}\n' \
  "$OK" "$ROWS" "$LATEST" "$TARGET" "$(python3 -c "print($END - $START)")"
$OK
