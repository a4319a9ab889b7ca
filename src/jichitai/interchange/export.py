"""Export one municipality's register in the standard layout (docs/standard-layout.md).

Reads with plain SQL, every statement filtered by the municipality in scope (`require_municipality()`), the values
formatted to text by the database itself (dates `YYYY-MM-DD`, booleans `true`/`false`, date-times UTC
`YYYY-MM-DDTHH:MM:SS.ffffffZ`, the history snapshot flattened with the engine's JSON operators), so rows go from
the cursor straight into `csv.writer` without a Python object per value. PostgreSQL reads through a server-side
cursor; all files are read in one transaction (REPEATABLE READ on PostgreSQL, a deferred read transaction on
SQLite) so they are consistent with each other.
"""
import base64
import csv
import datetime as dt
import hashlib
import json
import operator
import os
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from jichitai.audit.actions import append as audit_append
from jichitai.gaiji.models import GaijiMapping, GaijiMappingEvent
from jichitai.residents.models import Household, Person, PersonHistory
from jichitai.tenancy.models import NumberSequence
from jichitai.tenancy.scope import require_municipality

from .errors import InterchangeError
from .layout import HISTORY_META_COLUMNS, HISTORY_SNAPSHOT_FIELDS, GENERATOR, LAYOUT_VERSION, RESOURCE_BY_NAME, RESOURCES, table_schema

FETCH = 5000
SEQUENCE_NAMES = ("atena", "household")


def format_datetime(value) -> str:
    if value is None:
        return ""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_json(path: Path, value) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Sql:
    """Per-engine SQL expressions that turn a column into the layout's text form (or NULL)."""

    def __init__(self, vendor):
        self.pg = vendor == "postgresql"
        self.byte_order_default = True
        if self.pg:
            with connection.cursor() as c:
                c.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
                collate = c.fetchone()[0]
            self.byte_order_default = collate.lower().replace("-", "") in ("c", "posix", "c.utf8")

    def col(self, expr, typ):
        if typ == "string":
            # PostgreSQL's COPY … CSV writes an empty string as "" (to tell it from NULL): both are empty here
            return f"NULLIF({expr}, '')" if self.pg else expr
        if typ == "boolean":
            return f"CASE WHEN {expr} THEN 'true' ELSE 'false' END"
        if typ == "date":
            return f"to_char({expr}, 'YYYY-MM-DD')" if self.pg else f"CAST({expr} AS TEXT)"
        if typ == "datetime":
            if self.pg:
                return f"""to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
            # Django stores naive UTC text on SQLite, microseconds omitted when zero
            return (f"replace({expr}, ' ', 'T') || CASE WHEN instr({expr}, '.') THEN '' ELSE '.000000' END || 'Z'")
        return expr

    def snap(self, key, typ):
        # PostgreSQL only (measured faster than one jsonb_to_record per row); SQLite's snapshot is flattened in
        # Python (_flatten_snapshots)
        return f"NULLIF(h.snapshot->>'{key}', '')"

    def order_key(self, expr):
        """Code point order on both engines. When the database's default collation already is (C, C.UTF-8), no
        COLLATE clause, so that PostgreSQL reads in order from the (municipality, atena_no) index instead of
        sorting; otherwise an explicit COLLATE "C"."""
        return expr if self.byte_order_default else f'{expr} COLLATE "C"'



def _person_sql(sql: _Sql):
    exprs = []
    for c in RESOURCE_BY_NAME["persons"].columns:
        if c.name == "household_no":
            exprs.append(sql.col("hh.household_no", "string"))
        else:
            exprs.append(sql.col(f"p.{Person._meta.get_field(c.name).column}", c.type))
    return (f"SELECT {', '.join(exprs)} FROM {Person._meta.db_table} p "
            f"JOIN {Household._meta.db_table} hh ON hh.id = p.household_id AND hh.municipality_id = %s "
            f"WHERE p.municipality_id = %s ORDER BY {sql.order_key('p.atena_no')}")


def _household_sql(sql: _Sql):
    return (f"SELECT hh.household_no, {sql.col('hp.atena_no', 'string')}, {sql.col('hh.is_active', 'boolean')}, "
            f"{sql.col('hh.created_at', 'datetime')} FROM {Household._meta.db_table} hh "
            f"LEFT JOIN {Person._meta.db_table} hp ON hp.id = hh.head_id AND hp.municipality_id = %s "
            f"WHERE hh.municipality_id = %s ORDER BY {sql.order_key('hh.household_no')}")


def _history_sql(sql: _Sql):
    res = RESOURCE_BY_NAME["history"]
    meta = [sql.col("p.atena_no", "string"), "h.history_no", "h.change_kind", sql.col("h.change_date", "date"),
            sql.col("h.notification_date", "date"), sql.col("h.processed_at", "datetime"),
            sql.col("h.operator", "string"), sql.col("h.terminal", "string"), sql.col("h.note", "string")]
    assert len(meta) == len(HISTORY_META_COLUMNS)
    if sql.pg:
        exprs = meta + [sql.snap(c.name, c.type) for c in res.columns[len(meta):]]
    else:
        exprs = meta + ["h.snapshot"]
    # SQLite: CROSS JOIN fixes the loop order (persons in atena_no order by their unique index, then each
    # person's history by (person_id, history_no)), so no sort of the whole history is needed.
    join = "JOIN" if sql.pg else "CROSS JOIN"
    lateral = ""
    return (f"SELECT {', '.join(exprs)} FROM {Person._meta.db_table} p {join} {PersonHistory._meta.db_table} h "
            f"ON h.person_id = p.id{lateral} WHERE p.municipality_id = %s AND h.municipality_id = %s "
            f"ORDER BY {sql.order_key('p.atena_no')}, h.history_no")


def _count_sql(model, joined=False):
    t = model._meta.db_table
    if joined:  # history rows whose person is in the municipality too, as the export's join
        return (f"SELECT count(*) FROM {t} h JOIN {Person._meta.db_table} p ON p.id = h.person_id "
                f"WHERE p.municipality_id = %s AND h.municipality_id = %s")
    return f"SELECT count(*) FROM {t} WHERE municipality_id = %s AND municipality_id = %s"


def _write_query(path: Path, header, query, params, progress=None, label="", transform=None, count=None) -> int:
    """Run `query` and write its rows after the header. PostgreSQL: COPY (query) TO STDOUT in CSV, written as it
    comes (the server formats and quotes; the rows are counted by `count`, in the same snapshot). SQLite: the cursor's rows
    through `csv.writer`, optionally transformed per batch."""
    n = 0
    with open(path, "wb") as f:
        f.write((",".join(header) + "\n").encode("utf-8"))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                q = query.replace("%s", "{}").format(*[int(p) for p in params])  # ids only: safe to inline
                with cursor.cursor.copy(f"COPY ({q}) TO STDOUT WITH (FORMAT csv)") as copy:
                    for block in copy:
                        f.write(block)
                cursor.execute(count, params)
                return cursor.fetchone()[0]
    with open(path, "a", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        cursor = connection.cursor()
        try:
            cursor.execute(query, params)
            last = 0
            while True:
                rows = cursor.fetchmany(FETCH)
                if not rows:
                    break
                w.writerows(transform(rows) if transform else rows)
                n += len(rows)
                if progress and n - last >= 200_000:
                    last = n
                    progress(label, n)
        finally:
            cursor.close()
    return n


_N_META = len(HISTORY_META_COLUMNS)
_SNAP_GET = operator.itemgetter(*HISTORY_SNAPSHOT_FIELDS)
_BOOL_TEXT = {True: "true", False: "false", None: None}


def _flatten_snapshots(rows):
    """SQLite: (meta…, snapshot JSON text) → (meta…, snapshot values in HISTORY_SNAPSHOT_FIELDS order).

    The batch's snapshots are parsed in one json.loads call, with JSON true/false turned into the layout's
    "true"/"false" text first. The replacement can only touch a `": true` that ends a key: inside a JSON string a
    quote is always escaped, so a replaced text inside a value makes the JSON invalid (never silently different),
    and then the batch takes the slow path."""
    snaps = ",".join([r[_N_META] for r in rows])
    try:
        parsed = json.loads("[" + snaps.replace('": true', '": "true"').replace('": false', '": "false"') + "]")
        return [r[:_N_META] + _SNAP_GET(d) for r, d in zip(rows, parsed)]
    except (ValueError, KeyError):
        out = []
        for r in rows:
            d = json.loads(r[_N_META])
            out.append(r[:_N_META] + tuple(_BOOL_TEXT.get(v, v) if isinstance(v, bool) or v is None else v
                                           for v in (d.get(k) for k in HISTORY_SNAPSHOT_FIELDS)))
        return out


def _gaiji_rows(m):
    """Both 外字 files' rows (a small registry: read through the scoped managers)."""
    mappings = list(GaijiMapping.objects.all().values_list(
        "pk", "vendor", "pua_char", "sjis_code", "vendor_juki_code", "vendor_koseki_no", "vendor_note", "mj_name",
        "mapped_text", "status", "evidence", "reviewer__username", "reviewed_at", "version", "glyph_png"))
    events = {}
    for mapping_id, action, at, actor, snapshot, note in GaijiMappingEvent.objects.order_by("at", "pk").values_list(
            "mapping_id", "action", "at", "actor", "snapshot", "note"):
        events.setdefault(mapping_id, []).append((action, at, actor, snapshot, note))
    map_rows, event_rows = [], []
    for (pk, vendor, pua, sjis, juki, koseki, vnote, mj, text, status, evidence, reviewer, reviewed_at, version,
         png) in mappings:
        code = f"U+{ord(pua):04X}"
        evs = events.get(pk, [])
        # the reviewer as the mapping's history recorded it (also when the user does not exist in this installation)
        if evs and isinstance(evs[-1][3], dict) and "reviewer" in evs[-1][3]:
            reviewer = evs[-1][3]["reviewer"] or ""
        map_rows.append([vendor, code, sjis, juki, koseki, vnote, mj, text, status, evidence, reviewer or "",
                         format_datetime(reviewed_at), version,
                         base64.b64encode(bytes(png)).decode("ascii") if png else ""])
        for no, (action, at, actor, snapshot, note) in enumerate(evs, start=1):
            event_rows.append([vendor, code, no, action, format_datetime(at), actor, note,
                               json.dumps(snapshot, ensure_ascii=False, sort_keys=True, separators=(",", ":"))])
    key = lambda r: (r[0], int(r[1][2:], 16))  # noqa: E731 — code point order, independent of DB collation
    map_rows.sort(key=key)
    event_rows.sort(key=lambda r: (key(r), r[2]))
    return map_rows, event_rows


def _write_rows(path: Path, header, rows) -> int:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return len(rows)


class _ReadTransaction:
    """One consistent read of all files: REPEATABLE READ on PostgreSQL, a DEFERRED (read, not write-locking)
    transaction on SQLite. Inside a caller's transaction, that one is used."""

    def __enter__(self):
        self.own = not connection.in_atomic_block
        if not self.own:
            return self
        if connection.vendor == "postgresql":
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            with connection.cursor() as c:
                c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                c.execute("SET LOCAL jit = off")  # compiling the wide expressions costs more than it saves
        else:
            connection.ensure_connection()
            with connection.cursor() as c:
                c.execute("BEGIN DEFERRED")
        return self

    def __exit__(self, *exc):
        if not self.own:
            return False
        if connection.vendor == "postgresql":
            return self.atomic.__exit__(*exc)
        with connection.cursor() as c:
            c.execute("COMMIT")
        return False


def export_municipality(out_dir, *, actor=None, terminal="system", created_at=None, progress=None,
                        audit=True) -> dict:
    """Write the municipality in scope to `out_dir` (created; must be empty) and return the manifest.

    `created_at` (an aware datetime) is the export time written to the manifest, injectable for tests; it is the
    only value in the layout that depends on when the export ran."""
    m = require_municipality()
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise InterchangeError(f"出力先のディレクトリが空ではありません: {out}",
                               f"the output directory is not empty: {out}")
    out.mkdir(parents=True, exist_ok=True)
    created_at = created_at or timezone.now()
    sql = _Sql(connection.vendor)
    counts = {}
    with _ReadTransaction():
        counts["persons"] = _write_query(out / "persons.csv", RESOURCE_BY_NAME["persons"].header, _person_sql(sql),
                                         [m.pk, m.pk], progress, "persons",
                                         count=_count_sql(Person))
        if progress:
            progress("persons", counts["persons"])
        counts["households"] = _write_query(out / "households.csv", RESOURCE_BY_NAME["households"].header,
                                            _household_sql(sql), [m.pk, m.pk], progress, "households",
                                            count=_count_sql(Household))
        if progress:
            progress("households", counts["households"])
        counts["history"] = _write_query(out / "history.csv", RESOURCE_BY_NAME["history"].header, _history_sql(sql),
                                         [m.pk, m.pk], progress, "history",
                                         transform=None if sql.pg else _flatten_snapshots,
                                         count=_count_sql(PersonHistory, joined=True))
        if progress:
            progress("history", counts["history"])
        map_rows, event_rows = _gaiji_rows(m)
        counts["gaiji_mappings"] = _write_rows(out / "gaiji_mappings.csv", RESOURCE_BY_NAME["gaiji_mappings"].header,
                                               map_rows)
        counts["gaiji_events"] = _write_rows(out / "gaiji_events.csv", RESOURCE_BY_NAME["gaiji_events"].header,
                                             event_rows)
        sequences = dict(NumberSequence.objects.filter(municipality=m, name__in=SEQUENCE_NAMES)
                         .values_list("name", "last_value"))
    resources = []
    for res in RESOURCES:
        write_json(out / res.schema_path, table_schema(res))
        resources.append({
            "name": res.name, "path": res.path, "title": res.title, "format": "csv", "encoding": "utf-8",
            "schema": res.schema_path, "rows": counts[res.name], "bytes": os.path.getsize(out / res.path),
            "sha256": sha256_of(out / res.path), "schema_sha256": sha256_of(out / res.schema_path),
        })
    manifest = {
        "layout": "jichitai-standard-layout",
        "layout_version": LAYOUT_VERSION,
        "generator": GENERATOR,
        "municipality": {"code": m.code, "code6": m.code6, "name": m.name, "name_kana": m.name_kana,
                         "prefecture_code": m.prefecture.code, "prefecture_name": m.prefecture.name},
        "created_at": format_datetime(created_at),
        "number_sequences": {name: sequences.get(name, 0) for name in SEQUENCE_NAMES},
        "resources": resources,
    }
    write_json(out / "manifest.json", manifest)
    if audit:
        with transaction.atomic():
            audit_append(m, "interchange.export", actor=actor, terminal=terminal, object_type="municipality",
                         object_id=m.code, detail={"layout_version": LAYOUT_VERSION, "counts": counts,
                                                   "dv_protected_included": True})
    return manifest
