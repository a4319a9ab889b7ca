"""Backups of the whole database or of one municipality, and their restore (docs/architecture.md, "Continuity").

What is in a backup: every table of every installed app (auto-created many-to-many tables included) except
sessions (`SKIPPED`), each as JSON lines in primary-key order, one list of column values per row in an
engine-independent form (booleans, UTC ISO times, base64 bytes, JSON values), so a backup taken on SQLite restores
into PostgreSQL and back. Each table ends with its row count and the SHA-256 of its lines (its *content digest*);
the last line is the manifest: every table's count and digest, the applied migrations, the audit chains, and the
signed audit checkpoints (kept outside the database; carried along so a restore elsewhere can verify the chains).

A municipality's backup (`scope=code`) holds: its municipality and prefecture rows, every row of every table with
a municipality column equal to it (residents, history, households, 外字 and their events, its audit chain entries,
its staff, certificates issued, API clients, feed …), the audit chain heads of its chain and of its offline
segments, and rows of tables without a municipality column that hang on one of those by a required foreign key
(migration chunks, staff's authenticator devices and their tokens, staff's group links). Platform tables (role
definitions, content types, the platform audit chain, 標準/県版 certificate settings) are not in it; the target
keeps its own.

Restore goes into an *empty* database (no municipality, no staff, no audit entry): it migrates, checks that the
backup's migrations are the database's, replaces the rows `migrate` itself creates (content types, permissions,
default roles) in a full restore, and loads every table in one transaction as the schema owner
(`guard.db.owner_session`: row-level security and the COPY restriction do not apply to it; the append-only
triggers refuse UPDATE and DELETE only, and nothing is updated). Foreign keys are checked at commit (deferred on
both engines), so table order and the household ↔ head cycle do not matter. Sequences are moved past the restored
ids on PostgreSQL. Bulk path: COPY on PostgreSQL, executemany on SQLite, no ORM objects. On PostgreSQL the big tables
are loaded bare and their keys, indexes and foreign keys built after the load, inside the same transaction (as
pg_restore does; `BARE_LOAD_ROWS`).
"""
import base64
import datetime as dt
import hashlib
import json
import os
import time
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder

from jichitai.guard.db import owner_session

from . import archive
from .archive import BackupError, refused

SKIPPED = {"django_session"}
# Rows `migrate` creates itself; a full restore replaces them with the backup's (same ids as the source).
SEEDED = ["tenancy_roledefinition_permissions", "tenancy_roledefinition", "tenancy_permissiondefinition",
          "auth_group_permissions", "auth_permission", "django_content_type"]
BATCH = 5000
UTC = dt.timezone.utc


def _models():
    out = {}
    for m in apps.get_models(include_auto_created=True):
        if m._meta.proxy or not m._meta.managed or m._meta.db_table in SKIPPED:
            continue
        out[m._meta.db_table] = m
    return dict(sorted(out.items()))


def _q(name):
    return connection.ops.quote_name(name)


# ---------------------------------------------------------------- which rows (full or one municipality)

def _muni_col(m):
    try:
        f = m._meta.get_field("municipality")
    except Exception:
        return None
    return f.column if getattr(f, "concrete", False) else None


def selection(scope: str, muni_pk: int | None, prefecture_pk: int | None) -> dict:
    """{table: SQL condition or None (whole table)} of the rows a backup of `scope` holds; tables not in it are
    not in the backup. Full backup: every table, whole."""
    ms = _models()
    if not scope:
        return {t: None for t in ms}
    from jichitai.audit.models import AuditChain
    from jichitai.tenancy.models import Municipality, Prefecture

    sel = {}
    for t, m in ms.items():
        col = _muni_col(m)
        if m is Municipality:
            sel[t] = f"{_q(m._meta.pk.column)} = {int(muni_pk)}"
        elif m is Prefecture:
            sel[t] = f"{_q(m._meta.pk.column)} = {int(prefecture_pk)}"
        elif m is AuditChain:
            sel[t] = None  # set below (needs the code as a parameter-free literal)
        elif col:
            sel[t] = f"{_q(col)} = {int(muni_pk)}"
    code = "".join(ch for ch in scope if ch.isalnum())
    sel[AuditChain._meta.db_table] = f"({_q('key')} = '{code}' OR {_q('key')} LIKE '{code}~%')"
    # tables hanging on a selected row by a required foreign key (repeated until nothing is added)
    grew = True
    while grew:
        grew = False
        for t, m in ms.items():
            if t in sel or m in (Municipality, Prefecture):
                continue
            for f in m._meta.concrete_fields:
                parent = getattr(f, "related_model", None)
                if (isinstance(f, models.ForeignKey) and not f.null and parent is not None
                        and parent._meta.db_table in sel and parent not in (Municipality, Prefecture)):
                    pt = parent._meta.db_table
                    where = sel[pt]
                    sub = f"SELECT {_q(f.target_field.column)} FROM {_q(pt)}" + (f" WHERE {where}" if where else "")
                    sel[t] = f"{_q(f.column)} IN ({sub})"
                    grew = True
                    break
    return {t: sel[t] for t in sorted(sel)}


# ---------------------------------------------------------------- values: database ↔ engine-independent

def _dt_out(v):
    if isinstance(v, str):
        head, _, frac = v.partition(".")
        if len(head) == 19 and head[10] == " " and (not frac or frac.isdigit()):
            # the text the select gives (UTC, no zone): "YYYY-MM-DD HH:MM:SS[.ffffff]"
            return f"{head[:10]}T{head[11:]}.{frac[:6]:0<6}+00:00"
        v = dt.datetime.fromisoformat(v)
    if v.tzinfo is None:
        v = v.replace(tzinfo=UTC)
    return v.astimezone(UTC).isoformat(timespec="microseconds")


def _select(f) -> str:
    """The select expression of a column: times and dates as text in one form on both engines (no converter per
    value: the hot path of a backup)."""
    col = _q(f.column)
    kind = f.get_internal_type()
    if connection.vendor == "postgresql":
        if kind == "DateTimeField":
            return f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        if kind == "DateField":
            return f"to_char({col}, 'YYYY-MM-DD')"
    elif kind in ("DateTimeField", "DateField", "TimeField"):
        return f"CAST({col} AS TEXT)"
    return col


def _codecs(m):
    """Per column: (to portable, to database) functions for this engine (None = as is)."""
    pg = connection.vendor == "postgresql"
    ops = connection.ops
    out = []
    for f in m._meta.concrete_fields:
        kind = f.get_internal_type()
        if kind == "BooleanField":
            out.append((lambda v: None if v is None else bool(v), None))
        elif kind == "DateTimeField":
            out.append((lambda v: None if v is None else _dt_out(v),
                        (lambda v: v) if pg else
                        (lambda v: None if v is None else ops.adapt_datetimefield_value(dt.datetime.fromisoformat(v)))))
        elif kind in ("DateField", "TimeField"):
            out.append((lambda v: None if v is None else (v if isinstance(v, str) else v.isoformat()), None))
        elif kind == "JSONField":
            # (Django reads jsonb as text on psycopg 3, like SQLite's text; key order and spacing are normalised)
            out.append((lambda v: None if v is None else (json.loads(v) if isinstance(v, str) else v),
                        lambda v: None if v is None else json.dumps(v, ensure_ascii=False)))
        elif kind == "BinaryField":
            out.append((lambda v: None if v is None else base64.b64encode(bytes(v)).decode(),
                        lambda v: None if v is None else base64.b64decode(v)))
        elif kind == "DecimalField":
            out.append((lambda v: None if v is None else str(Decimal(str(v))), None))
        elif kind == "UUIDField":
            out.append((lambda v: None if v is None else str(v), None))
        else:
            out.append((None, None))
    return out


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def _dumps(row) -> bytes:
    return _encode(row).encode()


def table_blocks(m, where):
    """Yield (rows in the block, bytes: one JSON line per row) of `m` in primary-key order, a batch at a time."""
    fields = m._meta.concrete_fields
    outs = [c[0] for c in _codecs(m)]
    conv = [(i, fn) for i, fn in enumerate(outs) if fn is not None]
    sql = (f"SELECT {', '.join(_select(f) for f in fields)} FROM {_q(m._meta.db_table)}"
           + (f" WHERE {where}" if where else "") + f" ORDER BY {_q(m._meta.pk.column)}")
    enc = _encode
    with connection.cursor() as c:
        c.execute(sql)
        while True:
            batch = c.fetchmany(BATCH)
            if not batch:
                return
            if conv:
                lines = []
                for r in batch:
                    r = list(r)
                    for i, fn in conv:
                        r[i] = fn(r[i])
                    lines.append(enc(r))
            else:
                lines = [enc(list(r)) for r in batch]
            lines.append("")
            yield len(batch), "\n".join(lines).encode()


def copy_blocks(m, where):
    """PostgreSQL: the rows of `m` in primary-key order as COPY text lines (one line per row: COPY escapes newlines
    in values), about 1 MB at a time — the server formats every value, Python touches no value."""
    cols = ", ".join(_q(f.column) for f in m._meta.concrete_fields)
    sql = (f"COPY (SELECT {cols} FROM {_q(m._meta.db_table)}" + (f" WHERE {where}" if where else "")
           + f" ORDER BY {_q(m._meta.pk.column)}) TO STDOUT")
    with connection.cursor() as c:
        # the text forms COPY writes depend on these; fixed so that a digest is the same on any server
        c.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
                  "SET extra_float_digits = 1; SET bytea_output = 'hex'")
        with c.cursor.copy(sql) as cp:
            buf = bytearray()
            for data in cp:
                buf += data
                if len(buf) >= 1 << 20:
                    yield buf.count(b"\n"), bytes(buf)
                    buf = bytearray()
            if buf:
                yield buf.count(b"\n"), bytes(buf)


def blocks(m, where, fmt):
    return copy_blocks(m, where) if fmt == "pg-copy" else table_blocks(m, where)


def native_format() -> str:
    """What this engine's backups hold: PostgreSQL COPY text (fast both ways; restores into PostgreSQL), or the
    engine-independent JSON lines (SQLite; restore into either engine)."""
    return "pg-copy" if connection.vendor == "postgresql" else "json"


def digests(sel: dict, fmt: str = "json") -> dict:
    """{table: {"rows", "sha256"}} of the rows `sel` names in the database now, in the backup format `fmt`."""
    ms = _models()
    out = {}

    def one(t, where):
        h, n = hashlib.sha256(), 0
        for k, block in blocks(ms[t], where, fmt):
            h.update(block)
            n += k
        out[t] = {"rows": n, "sha256": h.hexdigest()}

    with owner_session("continuity: content digests of a backup's tables"):
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            for t, where in sel.items():
                one(t, where)
            return out
        # PostgreSQL, after a restore (committed): two connections, the tables shared out largest first, so that
        # the server formats and Python digests on both cores
        import contextvars
        import threading

        todo = sorted(sel.items(), key=lambda kv: -_size(kv[0]))
        lock, errors = threading.Lock(), []

        def worker():
            from django.db import connection as conn

            try:
                while True:
                    with lock:
                        if not todo or errors:
                            return
                        t, where = todo.pop(0)
                    one(t, where)
            except BaseException as exc:  # noqa: BLE001 (raised below)
                errors.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=contextvars.copy_context().run, args=(worker,)) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if errors:
            raise errors[0]
    return out


def _size(table) -> int:
    with connection.cursor() as c:
        c.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
        return c.fetchone()[0] or 0


def applied_migrations() -> list:
    return sorted(f"{a}.{n}" for a, n in MigrationRecorder(connection).applied_migrations())


def _checkpoint_files(chain_keys) -> dict:
    d = Path(settings.JICHITAI_AUDIT_CHECKPOINT_DIR)
    out = {}
    if not d.is_dir():
        return out
    for p in sorted(d.iterdir()):
        if p.is_file() and any(p.name == k or p.name.startswith(k + ".") for k in chain_keys):
            out[p.name] = p.read_text(encoding="utf-8")
    return out


# ---------------------------------------------------------------- backup

def write_backup(path: Path, scope: str = "") -> dict:
    """Write an encrypted backup of everything (scope "") or of one municipality (scope = its code) to `path`.
    Returns the manifest. Reads one consistent snapshot (REPEATABLE READ on PostgreSQL, one read transaction on
    SQLite)."""
    from jichitai.audit.models import AuditChain
    from jichitai.tenancy.models import Municipality

    t0 = time.monotonic()
    path = Path(path)
    from jichitai.guard.db import sync
    from jichitai.residents.models import Person

    with owner_session("continuity: backup reads every table"):
        sync()  # (before SET TRANSACTION, which must be the transaction's first statement)
        return _write(path, scope, t0, AuditChain, Municipality, Person)


def _write(path, scope, t0, AuditChain, Municipality, Person):
    outer = connection.in_atomic_block  # (inside a transaction already: its snapshot is the one read)
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as c:
                c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        muni_pk = pref_pk = None
        mrow = None
        if scope:
            with connection.cursor() as c:
                c.execute(f"SELECT id, prefecture_id, name FROM {_q(Municipality._meta.db_table)} WHERE code = %s",
                          [scope])
                mrow = c.fetchone()
            if mrow is None:
                raise BackupError(f"自治体 {scope} がありません / no municipality {scope}")
            muni_pk, pref_pk = mrow[0], mrow[1]
        sel = selection(scope, muni_pk, pref_pk)
        ms = _models()
        w = archive.Writer(path, {"scope": scope, "engine": connection.vendor,
                                  "created_at": dt.datetime.now(UTC).isoformat(timespec="seconds")})
        try:
            tables = {}
            fmt = native_format()
            for t, where in sel.items():
                m = ms[t]
                cols = [f.column for f in m._meta.concrete_fields]
                w.write(_dumps({"table": t, "columns": cols, "format": fmt}) + b"\n")
                h, n = hashlib.sha256(), 0
                for k, block in blocks(m, where, fmt):
                    h.update(block)
                    w.write(block)
                    n += k
                tables[t] = {"rows": n, "sha256": h.hexdigest()}
                # (COPY text lines never begin with a backslash and a dot: that is the end of a COPY table)
                end = _dumps({"end": t, "rows": n, "sha256": tables[t]["sha256"]})
                w.write((b"\\." + end if fmt == "pg-copy" else end) + b"\n")
            with connection.cursor() as c:
                where = sel[AuditChain._meta.db_table]
                c.execute(f"SELECT {_q('key')} FROM {_q(AuditChain._meta.db_table)}" + (f" WHERE {where}" if where else ""))
                chains = sorted(r[0] for r in c.fetchall())
                c.execute(f"SELECT m.code, count(p.id) FROM {_q(Municipality._meta.db_table)} m LEFT JOIN "
                          f"{_q(Person._meta.db_table)} p ON p.municipality_id = m.id"
                          + (f" WHERE m.id = {int(muni_pk)}" if scope else "") + " GROUP BY m.code")
                residents = {code: n for code, n in c.fetchall()}
            manifest = {
                "manifest": True, "scope": scope, "engine": connection.vendor, "format": fmt,
                "created_at": w.header["created_at"], "tables": tables, "migrations": applied_migrations(),
                "chains": chains, "checkpoints": _checkpoint_files(chains), "residents_by_code": residents,
            }
            w.write(_dumps(manifest) + b"\n")
            w.close()
        except BaseException:
            w.abort()
            raise
    manifest["key_id"] = w.header["key_id"]
    manifest["seconds"] = round(time.monotonic() - t0, 3)
    return manifest


# ---------------------------------------------------------------- reading a backup

def read_manifest(path: Path) -> dict:
    """Authenticate the whole file and return its manifest (refuses a tampered or truncated file)."""
    header, _, _ = archive.read_header(path)
    last = None
    for line in archive.lines(path):  # (authenticates every chunk, and refuses a file without its final chunk)
        last = line
    try:
        manifest = json.loads(last) if last else None
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not manifest.get("manifest"):
        raise refused("目録（マニフェスト）がありません", "the manifest is missing")
    if manifest.get("scope") != header.get("scope"):
        raise refused("目録と見出しの対象が一致しません", "the manifest and the header name different scopes")
    return manifest


def _target_not_empty() -> str:
    from jichitai.audit.models import AuditChain, AuditEvent
    from jichitai.tenancy.models import Municipality, StaffUser

    with connection.cursor() as c:
        for m in (Municipality, StaffUser, AuditEvent, AuditChain):
            c.execute(f"SELECT count(*) FROM {_q(m._meta.db_table)}")
            n = c.fetchone()[0]
            if n:
                return f"{m._meta.db_table}: {n}"
    return ""


def restore(path: Path, *, progress=None, timings: dict | None = None, authenticated=None) -> dict:
    """Restore `path` into this (empty, migrated) database. Returns the manifest. Everything or nothing.
    `timings` (a dict) receives the seconds of each phase. `authenticated`: a callable returning `read_manifest(path)`
    computed meanwhile (the restore command authenticates the file in a second thread while it migrates)."""
    path = Path(path)
    timings = {} if timings is None else timings
    t = time.monotonic()
    manifest = authenticated() if authenticated else read_manifest(path)
    timings["authenticate"] = round(time.monotonic() - t, 2)
    scope = manifest["scope"]
    have = applied_migrations()
    if have != manifest["migrations"]:
        missing = sorted(set(manifest["migrations"]) - set(have))
        extra = sorted(set(have) - set(manifest["migrations"]))
        raise refused(f"データベースのスキーマがバックアップと異なります（不足: {missing[:5]}、余分: {extra[:5]}）",
                      f"the database's migrations differ from the backup's (missing {missing[:5]}, extra {extra[:5]})")
    ms = _models()
    unknown = sorted(set(manifest["tables"]) - set(ms))
    if unknown:
        raise refused(f"このデータベースにないテーブルがあります: {unknown[:5]}", f"unknown tables: {unknown[:5]}")
    busy = _target_not_empty()
    if busy:
        raise BackupError(f"復元先のデータベースが空ではありません（{busy}）。空のデータベースに復元してください / the target "
                          f"database is not empty ({busy}); restore into an empty database")
    pg = connection.vendor == "postgresql"
    with owner_session("continuity: restore into an empty database"), transaction.atomic():
        with connection.cursor() as c:
            deferred = None
            if pg:
                c.execute("SET CONSTRAINTS ALL DEFERRED")
                big = [t for t, d in manifest["tables"].items() if d["rows"] >= BARE_LOAD_ROWS]
                deferred = _strip_for_load(c, big)
            if not scope:
                for t in SEEDED:
                    if t in manifest["tables"]:
                        c.execute(f"DELETE FROM {_q(t)}")
            t = time.monotonic()
            _load_stream(c, ms, pg, path, manifest, progress)
            timings["load"] = round(time.monotonic() - t, 2)
            if pg:
                t = time.monotonic()
                # fire the deferred checks queued by the load first: PostgreSQL refuses ALTER TABLE on a table with
                # pending trigger events ("cannot ALTER TABLE … because it has pending trigger events"), and the
                # rebuild re-adds foreign keys on small tables that the load has just filled
                c.execute("SET CONSTRAINTS ALL IMMEDIATE")
                _rebuild_after_load(c, deferred)
                timings["indexes_and_keys"] = round(time.monotonic() - t, 2)
                seqs = connection.ops.sequence_reset_sql(no_style(), [ms[t] for t in manifest["tables"]])
                for s in seqs:
                    c.execute(s)
                t = time.monotonic()
                c.execute("SET CONSTRAINTS ALL IMMEDIATE")
                timings["deferred_checks"] = round(time.monotonic() - t, 2)
            else:
                c.execute("PRAGMA foreign_key_check")
                bad = c.fetchall()
                if bad:
                    raise refused(f"外部キーの参照先がありません: {bad[:3]}", f"foreign keys without their row: {bad[:3]}")
        t = time.monotonic()
    timings["commit"] = round(time.monotonic() - t, 2)
    _restore_checkpoints(manifest.get("checkpoints") or {})
    return manifest


# Tables with at least this many rows are loaded bare on PostgreSQL, as pg_restore does: their secondary indexes,
# primary / unique keys and the foreign keys from and to them are dropped inside the restore's transaction, the rows
# loaded with COPY, then the keys and indexes built once (in parallel workers) and every foreign key re-added —
# which validates it over the whole table in one join — before the transaction commits. Nothing is given up: the
# same constraints hold at commit, a violation still fails the whole restore. JICHITAI_BARE_LOAD_ROWS overrides the
# threshold (the tests set it to 1 so that the bare path runs on their small databases).
BARE_LOAD_ROWS = int(os.environ.get("JICHITAI_BARE_LOAD_ROWS") or 5000)


def _strip_for_load(c, tables) -> dict | None:
    """Drop the indexes and constraints of `tables` (and the foreign keys pointing at them). Returns the SQL that
    rebuilds them, in order: keys, indexes, foreign keys."""
    if not tables:
        return None
    c.execute("""
        SELECT con.contype,
               format('ALTER TABLE %%s DROP CONSTRAINT %%I', con.conrelid::regclass, con.conname),
               format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', con.conrelid::regclass, con.conname,
                      pg_get_constraintdef(con.oid))
        FROM pg_constraint con
        WHERE (con.contype IN ('p', 'u', 'x') AND con.conrelid = ANY(%s::regclass[]))
           OR (con.contype = 'f' AND (con.conrelid = ANY(%s::regclass[]) OR con.confrelid = ANY(%s::regclass[])))
        ORDER BY con.conrelid::regclass::text, con.conname""", [tables, tables, tables])
    cons = c.fetchall()
    c.execute("""
        SELECT format('DROP INDEX %%s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')
                          AND k.conrelid = i.indrelid)
        ORDER BY i.indexrelid::regclass::text""", [tables])
    idx = c.fetchall()
    fks = [(d, a) for kind, d, a in cons if kind == "f"]
    keys = [(d, a) for kind, d, a in cons if kind != "f"]
    for drop, _ in fks + keys + idx:
        c.execute(drop)
    return {"keys": [a for _, a in keys], "indexes": [a for _, a in idx], "fks": [a for _, a in fks]}


def _rebuild_after_load(c, deferred):
    if not deferred:
        return
    # both cores for the index builds (PostgreSQL's parallel index build; within this transaction)
    c.execute("SET LOCAL maintenance_work_mem = '256MB'; SET LOCAL max_parallel_maintenance_workers = 2")
    for sql in deferred["keys"] + deferred["indexes"] + deferred["fks"]:
        c.execute(sql)


def _load_stream(c, ms, pg, path, manifest, progress):
    """Feed the backup's tables to their loaders. PostgreSQL COPY text goes to COPY FROM in whole blocks (digested
    and counted as blocks: the same bytes as line by line); JSON lines one at a time. The file is decrypted and
    decompressed in a second thread (zlib and the AEAD release the GIL) while this one loads."""
    table, buf, pos = None, b"", 0

    def line_done(line):
        nonlocal table
        if line.startswith(b"{"):
            d = json.loads(line)
            if "table" in d:
                table = _Loader(c, ms, d, pg)
                return True
            if "end" in d:
                if table is None:
                    raise refused("データの並びが正しくありません", "an end without its table")
                table.finish(d, manifest)
                if progress:
                    progress(table.name, table.n)
                table = None
                return True
            if d.get("manifest"):
                return False
        if table is None:
            raise refused("データの並びが正しくありません", "rows outside a table")
        table.add_json_line(line)
        return True

    for piece in archive.prefetched(archive.pieces(path)):
        buf = buf[pos:] + piece if pos < len(buf) else piece
        pos = 0
        while pos < len(buf):
            if table is not None and table.fmt == "pg-copy":
                if buf.startswith(b"\\.", pos):  # the table's end line
                    nl = buf.find(b"\n", pos)
                    if nl < 0:
                        break
                    table.finish(json.loads(buf[pos + 2:nl]), manifest)
                    if progress:
                        progress(table.name, table.n)
                    table, pos = None, nl + 1
                    continue
                k = buf.find(b"\n\\.", pos)
                last = k if k >= 0 else buf.rfind(b"\n", pos)
                if last < 0:
                    break
                table.add_copy_block(buf[pos:last + 1])
                pos = last + 1
                if k < 0:
                    break
                continue
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            line, pos = buf[pos:nl], nl + 1
            if not line_done(line):
                return
    if pos < len(buf) and not (table is not None and table.fmt == "pg-copy"):
        line_done(buf[pos:])
    if table is not None:
        raise refused("データの並びが正しくありません", "a table without its end")


class _Loader:
    """Loads one table of a backup: JSON lines (executemany on SQLite, COPY rows on PostgreSQL) or PostgreSQL COPY
    text lines (COPY FROM as they are). Counts and digests what it loads; `finish` compares with the manifest."""

    def __init__(self, c, ms, d, pg):
        self.c, self.name, self.cols, self.pg = c, d["table"], d["columns"], pg
        self.fmt = d.get("format", "json")
        m = ms[self.name]
        if self.cols != [f.column for f in m._meta.concrete_fields]:
            raise refused(f"{self.name} の列がこのデータベースと異なります", f"{self.name}: columns differ")
        if self.fmt == "pg-copy" and not pg:
            raise refused("PostgreSQL で取得したバックアップは PostgreSQL にだけ復元できます",
                          "a PostgreSQL backup restores into PostgreSQL only")
        self.conv = [(i, fn) for i, fn in enumerate(c2[1] for c2 in _codecs(m)) if fn is not None]
        self.h, self.n, self.buf = hashlib.sha256(), 0, []
        cols = ", ".join(_q(x) for x in self.cols)
        if pg:
            self.copy_cm = c.cursor.copy(f"COPY {_q(self.name)} ({cols}) FROM STDIN")
            self.copy = self.copy_cm.__enter__()
        else:
            self.sql = f"INSERT INTO {_q(self.name)} ({cols}) VALUES ({', '.join(['%s'] * len(self.cols))})"

    def add_copy_block(self, block):
        self.h.update(block)
        self.n += block.count(b"\n")
        self.copy.write(block)

    def add_copy_line(self, line):
        self.h.update(line + b"\n")
        self.n += 1
        self.buf.append(line)
        if len(self.buf) >= 20000:
            self.copy.write(b"\n".join(self.buf) + b"\n")
            self.buf = []

    def add_json_line(self, line):
        self.h.update(line + b"\n")
        self.n += 1
        r = json.loads(line)
        for i, fn in self.conv:
            r[i] = fn(r[i])
        if self.pg:
            self.copy.write_row(r)
        else:
            self.buf.append(r)
            if len(self.buf) >= BATCH:
                self.c.executemany(self.sql, self.buf)
                self.buf = []

    def finish(self, d, manifest):
        if self.buf:
            if self.fmt == "pg-copy":
                self.copy.write(b"\n".join(self.buf) + b"\n")
            else:
                self.c.executemany(self.sql, self.buf)
            self.buf = []
        if self.pg:
            self.copy_cm.__exit__(None, None, None)
        got = {"rows": self.n, "sha256": self.h.hexdigest()}
        if d.get("end") != self.name or got != {"rows": d.get("rows"), "sha256": d.get("sha256")} \
                or manifest["tables"].get(self.name) != got:
            raise refused(f"{self.name} の行数または内容の要約値が目録と一致しません",
                          f"{self.name}: row count or digest differs from the manifest")


def _restore_checkpoints(files: dict):
    """Write the backup's signed audit checkpoints where this installation keeps them, if it has none for a chain
    (an installation's own checkpoints are never overwritten)."""
    d = Path(settings.JICHITAI_AUDIT_CHECKPOINT_DIR)
    for name, text in files.items():
        if "/" in name or name.startswith("."):
            continue
        p = d / name
        if not p.exists():
            d.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")


def compare(manifest: dict) -> list:
    """Differences between the manifest and the database now (after a restore): [(table, expected, found)]."""
    from jichitai.tenancy.models import Municipality

    scope = manifest["scope"]
    muni_pk = pref_pk = None
    if scope:
        m = Municipality.objects.filter(code=scope).values_list("id", "prefecture_id").first()
        if m is None:
            return [("tenancy_municipality", scope, None)]
        muni_pk, pref_pk = m
    sel = selection(scope, muni_pk, pref_pk)
    sel = {t: w for t, w in sel.items() if t in manifest["tables"]}
    found = digests(sel, manifest.get("format", "json"))
    return [(t, manifest["tables"][t], found.get(t)) for t in manifest["tables"] if found.get(t) != manifest["tables"][t]]
