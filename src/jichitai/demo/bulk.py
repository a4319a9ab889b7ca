"""Bulk loading of synthetic residents, fast: plain tuples, `executemany` on SQLite, COPY on PostgreSQL.

`generate_municipality(municipality, n_persons, rng)` is the entry point (also used by the benchmarks). It streams
households in batches of about `batch_size` persons; each batch is one transaction (a savepoint when the caller
already holds one), so memory stays flat for a million persons.

How rows are written:
- Table and column names come from the models' `_meta`.
- Primary keys are reserved per batch (SQLite: inside the batch's write transaction, from MAX(id) and
  sqlite_sequence; PostgreSQL: under a SHARE ROW EXCLUSIVE table lock, from the identity sequence, which is then
  advanced), so households can name their head and persons their household before either exists: Django creates
  foreign keys DEFERRABLE INITIALLY DEFERRED on both backends, checked at commit.
- 宛名番号 and 世帯番号 continue the municipality's `NumberSequence` series ("atena", "household"), which are
  advanced in the same transaction so later registrations carry on from the last number.
- Search keys are computed by `jichitai.residents.actions.row_search_keys` (what compute_keys uses); history snapshots have exactly
  the keys of `SNAPSHOT_FIELDS`, in `jichitai.residents.actions.snapshot`'s format (dates as ISO strings).
- 住民票コード and 個人番号 (with its check digit) are a fixed bijection of the person's primary key, so they are
  unique across everything this module ever loads, with no lookup.
"""
import datetime as dt
import json
import random
import time

from django.db import connection, transaction
from django.utils import timezone

from jichitai.common.checkdigits import individual_number_check_digit
from jichitai.residents.actions import row_search_keys
from jichitai.residents.models import SNAPSHOT_FIELDS, Household, Person, PersonHistory
from jichitai.tenancy.models import NumberSequence
from jichitai.tenancy.scope import TenantScopeError, in_scope_of_first_argument, require_municipality

from .data import PILOT_BY_CODE
from .generate import TownGenerator

MIGRATION_OPERATOR = "migration"
MIGRATION_TERMINAL = "demo-seed"
MIGRATION_NOTE = "デモ用の合成データ（既存システムからの移行を想定）"

_M = 10**11


def _scramble(x: int, a: int, b: int, c: int, d: int) -> int:
    """A bijection of 0..10^11−1 (affine, digit reversal, affine): consecutive ids give unrelated-looking codes."""
    x = (a * x + b) % _M
    x = int(f"{x:011d}"[::-1])
    return (c * x + d) % _M


def resident_code_for(pk: int) -> str:
    return f"{_scramble(pk, 7_319_842_631, 48_211_907_353, 2_970_561_443, 5_512_006_871):011d}"


def individual_number_for(pk: int) -> str:
    first11 = f"{_scramble(pk, 3_861_299_457, 90_017_334_219, 6_104_882_917, 1_337_450_009):011d}"
    return first11 + str(individual_number_check_digit(first11))



REGISTERED_RESET = {"status": "resident", "removal_reason": "", "removal_date": None, "move_out_state": "",
                    "move_out_destination": "", "move_in_notice_date": None}


class BulkTables:
    """Column lists and per-backend value formatting, from the models' _meta."""

    def __init__(self, vendor):
        self.vendor = vendor
        self.person_fields = [f for f in Person._meta.concrete_fields]
        self.person_cols = [f.column for f in self.person_fields]
        self.person_attnames = [f.attname for f in self.person_fields]
        self.person_defaults = {f.attname: f.get_default() for f in self.person_fields}
        self.person_date_idx = [i for i, f in enumerate(self.person_fields) if f.get_internal_type() == "DateField"]
        self.hh_fields = [f for f in Household._meta.concrete_fields]
        # bulk-loaded history (demo, standard-layout import, legacy migration) has no 届出の受付 of this system
        self.hist_fields = [f for f in PersonHistory._meta.concrete_fields if f.attname != "intake_id"]
        self.snapshot_dates = {f for f in SNAPSHOT_FIELDS
                               if f != "household_no" and Person._meta.get_field(f).get_internal_type() == "DateField"}

    def insert(self, cursor, model, fields, rows):
        if not rows:
            return
        table = model._meta.db_table
        cols = [f.column for f in fields]
        qn = connection.ops.quote_name
        if "municipality_id" in cols:
            # every row must be the municipality's in scope (on PostgreSQL COPY runs past row-level security,
            # which refuses COPY FROM, so this check is the policy's WITH CHECK)
            i, m_id = cols.index("municipality_id"), require_municipality().pk
            if any(row[i] != m_id for row in rows):
                raise TenantScopeError(f"bulk rows of another municipality for {table}")
        if self.vendor == "postgresql":
            from jichitai.guard.db import owner_session, sync

            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with owner_session("bulk COPY: PostgreSQL refuses COPY FROM under row-level security; rows checked"):
                sync(cursor.db)
                with raw.copy(f"COPY {qn(table)} ({', '.join(qn(c) for c in cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            sql = (f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in cols)}) "
                   f"VALUES ({', '.join(['%s'] * len(cols))})")
            cursor.executemany(sql, rows)

    def insert_batched(self, cursor, model, fields, rows, batch_size=20_000, progress=None, label=""):
        """Insert an iterable of rows in batches; `progress(label, done)` after each batch. Returns the count."""
        batch, done = [], 0
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_size:
                self.insert(cursor, model, fields, batch)
                done += len(batch)
                batch = []
                if progress:
                    progress(label, done)
        self.insert(cursor, model, fields, batch)
        done += len(batch)
        if progress:
            progress(label, done)
        return done

    def reserve_ids(self, cursor, model, n) -> int:
        """First of `n` consecutive free primary keys of `model`; call inside the batch's transaction."""
        table = model._meta.db_table
        qn = connection.ops.quote_name
        pk = model._meta.pk.column
        if self.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {qn(table)} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
            seq = cursor.fetchone()[0]
            cursor.execute(f"SELECT nextval(%s), (SELECT COALESCE(MAX({qn(pk)}), 0) FROM {qn(table)})", [seq])
            nextval, max_id = cursor.fetchone()
            start = max(nextval, max_id + 1)
            cursor.execute("SELECT setval(%s, %s)", [seq, start + n - 1])
            return start
        cursor.execute(f"SELECT COALESCE(MAX({qn(pk)}), 0) FROM {qn(table)}")
        max_id = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        return max(max_id, row[0] if row else 0) + 1

    def date(self, d):
        if d is None or self.vendor == "postgresql":
            return d
        return d.isoformat()

    def datetime(self, value):
        return connection.ops.adapt_datetimefield_value(value) if self.vendor != "postgresql" else value

    json = staticmethod(json.JSONEncoder(ensure_ascii=False).encode)


def take_numbers(municipality, name, n) -> int:
    """Advance the municipality's series `name` by n (row locked); return the first number taken."""
    seq, _ = NumberSequence.objects.get_or_create(municipality=municipality, name=name)
    seq = NumberSequence.objects.select_for_update().get(pk=seq.pk)
    first = seq.last_value + 1
    NumberSequence.objects.filter(pk=seq.pk).update(last_value=seq.last_value + n)
    return first


def _write_batch(tables: BulkTables, municipality, households, processed_rng, stats):
    n_persons = sum(len(h) for h in households)
    n_hist = sum(len(p["_hist"]) for h in households for p in h)
    today_created = tables.datetime(timezone.now())
    vendor_pg = tables.vendor == "postgresql"
    muni_id = municipality.pk
    with transaction.atomic():
        with connection.cursor() as cursor:
            hh_id = tables.reserve_ids(cursor, Household, len(households))
            p_id = tables.reserve_ids(cursor, Person, n_persons)
            h_id = tables.reserve_ids(cursor, PersonHistory, n_hist)
            atena = take_numbers(municipality, "atena", n_persons)
            hh_no = take_numbers(municipality, "household", len(households))

            hh_rows, person_rows, hist_rows = [], [], []
            defaults = tables.person_defaults
            attnames = tables.person_attnames
            date_idx = tables.person_date_idx
            snapshot_dates = tables.snapshot_dates
            for members in households:
                household_no = f"{hh_no:010d}"
                hh_no += 1
                head_pk = None
                active = not members[0].get("_household_inactive")
                for p in members:
                    state = dict(defaults)
                    hist = p.pop("_hist")
                    p.pop("_household_inactive", None)
                    state.update(p)
                    pk = p_id
                    p_id += 1
                    if p.get("is_head") and head_pk is None:
                        head_pk = pk
                    state["id"] = pk
                    state["municipality_id"] = muni_id
                    state["household_id"] = hh_id
                    state["atena_no"] = f"{atena:010d}"
                    atena += 1
                    state["resident_code"] = resident_code_for(pk)
                    if "individual_number" not in p:
                        state["individual_number"] = individual_number_for(pk)
                    state["version"] = len(hist)
                    state["last_change_date"] = max(h[1] for h in hist)
                    state.update(row_search_keys(state))
                    # the snapshot of the final state, then one per history row
                    state["household_no"] = household_no
                    snap = {f: state[f] for f in SNAPSHOT_FIELDS}
                    for f in snapshot_dates:
                        if snap[f] is not None:
                            snap[f] = snap[f].isoformat()
                    for no, (kind, change_date, notif, overrides) in enumerate(hist, start=1):
                        s = snap
                        if kind in ("birth", "move_in") and (len(hist) > 1):
                            s = {**snap, **REGISTERED_RESET,
                                 "notification_date": notif.isoformat() if notif else None}
                        if overrides:
                            s = {**s, **{k: (v.isoformat() if isinstance(v, dt.date) else v)
                                         for k, v in overrides.items()}}
                        when = notif or change_date
                        # office hours, JST 09:00–17:59 = UTC 00:00–08:59 of the same day
                        secs = processed_rng.randrange(9 * 3600)
                        if vendor_pg:
                            processed = dt.datetime(when.year, when.month, when.day, secs // 3600,
                                                    secs // 60 % 60, secs % 60, tzinfo=dt.timezone.utc)
                        else:  # what Django stores on SQLite: naive UTC text
                            processed = f"{when.isoformat()} {secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
                        hist_rows.append({
                            "id": h_id, "municipality_id": muni_id, "person_id": pk, "history_no": no,
                            "change_kind": kind, "change_date": tables.date(change_date),
                            "notification_date": tables.date(notif), "processed_at": processed,
                            "operator": MIGRATION_OPERATOR, "terminal": MIGRATION_TERMINAL, "note": MIGRATION_NOTE,
                            "snapshot": tables.json(s),
                        })
                        h_id += 1
                    row = [state[a] for a in attnames]
                    if not vendor_pg:
                        for i in date_idx:
                            if row[i] is not None:
                                row[i] = row[i].isoformat()
                    person_rows.append(row)
                    stats["persons"] += 1
                    stats["history"] += len(hist)
                    stats["removed"] += state["status"] == "removed"
                    stats["foreign"] += bool(state["is_foreign"])
                    stats["dv_protected"] += bool(state["dv_protected"])
                hh_rows.append({"id": hh_id, "municipality_id": muni_id, "household_no": household_no,
                                "head_id": head_pk if active else None, "is_active": active,
                                "created_at": today_created})
                hh_id += 1
                stats["households"] += 1

            hh_fields = tables.hh_fields
            tables.insert(cursor, Household, hh_fields, [[r[f.attname] for f in hh_fields] for r in hh_rows])
            tables.insert(cursor, Person, tables.person_fields, person_rows)
            hist_fields = tables.hist_fields
            tables.insert(cursor, PersonHistory, hist_fields, [[r[f.attname] for f in hist_fields] for r in hist_rows])


def make_generator(municipality, n_hint: int, rng: random.Random, today: dt.date) -> TownGenerator:
    """The town of `municipality`: its 町字 and postal codes are drawn first from `rng`, so the same rng state
    gives the same towns (seed_demo uses that to pick new addresses in the same towns later)."""
    pilot = PILOT_BY_CODE.get(municipality.code)
    return TownGenerator(code=municipality.code, name=municipality.name, rng=rng, today=today,
                         postal_prefix=pilot.postal_prefix if pilot else "", n_hint=n_hint,
                         prefecture_name=municipality.prefecture.name)


@in_scope_of_first_argument
def generate_municipality(municipality, n_persons: int, rng: random.Random | None = None, *, seed: int = 2026,
                          batch_size: int = 20_000, today: dt.date | None = None, progress=None) -> dict:
    """Bulk-load `n_persons` synthetic Person rows (除票 included, about 3%) into `municipality`, in households,
    with their history rows, continuing its 宛名番号/世帯番号 series. Returns counts:
    {"persons", "households", "history", "removed", "foreign", "dv_protected", "seconds"}.

    `rng` (a random.Random) makes the data reproducible; by default one seeded from `seed` and the code.
    `progress(done, total)` is called after each batch. Works on SQLite and PostgreSQL; safe to call inside or
    outside a transaction (each batch is one transaction, or a savepoint within the caller's).
    """
    started = time.monotonic()
    rng = rng or random.Random(f"{seed}-{municipality.code}")
    today = today or timezone.localdate()
    gen = make_generator(municipality, n_persons, rng, today)
    processed_rng = random.Random(rng.random())
    tables = BulkTables(connection.vendor)
    stats = {"persons": 0, "households": 0, "history": 0, "removed": 0, "foreign": 0, "dv_protected": 0}
    done = 0
    while done < n_persons:
        batch, in_batch = [], 0
        want = min(batch_size, n_persons - done)
        while in_batch < want:
            members = gen.household()
            room = want - in_batch
            if len(members) > room:  # the last household of the run is cut to size
                members = members[:room]
            batch.append(members)
            in_batch += len(members)
        _write_batch(tables, municipality, batch, processed_rng, stats)
        done += in_batch
        if progress:
            progress(done, n_persons)
    stats["seconds"] = round(time.monotonic() - started, 2)
    return stats
