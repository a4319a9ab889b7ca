"""The matcher's reads of the register: blocking on the match index, in plain SQL (no ORM object per row).

The match index is the register's own derived key columns on `residents.Person` — name layers of the full name
(`name_key`, `name_sel_key`, `name_deg_key`, `name_var_key`), strict and loose kana
of the full reading (`kana_key`, `kana_loose_key`), `address_key`, `birth_date`, `household_id` — and their
(municipality, key, id) indexes. Every write path of the register computes them with
`jichitai.residents.actions.search_keys` in the same statement that writes the row (the actions, the demo's bulk
loader, the standard-layout import, the legacy migration loader, the residents migration that back-filled them), so
a change is matchable as soon as it commits and there is nothing to train or rebuild. `Person` is a TenantModel:
on PostgreSQL these reads run under row-level security, and every statement also names the municipality.

Each block is one statement per chunk of keys (`IN (…)`), returning candidate rows as tuples.
"""
from __future__ import annotations

from django.db import connection

from jichitai.residents.models import Person, Status
from jichitai.tenancy.scope import require_municipality

# The columns of a candidate, in this order (see api.Cand).
COLUMNS = ("id", "atena_no", "resident_code", "family_name", "given_name", "family_name_kana", "given_name_kana",
           "former_family_name", "former_family_name_kana", "birth_date", "sex", "address", "address_key",
           "household_id", "dv_protected", "name_key", "name_sel_key", "name_deg_key", "name_var_key", "kana_key",
           "kana_loose_key", "previous_address")
LIGHT_COLUMNS = ("id", "birth_date", "family_name", "given_name", "family_name_kana", "given_name_kana",
                 "former_family_name", "kana_loose_key", "name_var_key")
CHUNK = 500

_T = Person._meta.db_table
_SELECT = f"SELECT {', '.join('p.' + c for c in COLUMNS)} FROM {_T} p WHERE p.municipality_id = %s AND p.status = %s"
_SELECT_LIGHT = (f"SELECT {', '.join('p.' + c for c in LIGHT_COLUMNS)} FROM {_T} p "
                 f"WHERE p.municipality_id = %s AND p.status = %s")
# households: the foreign-key index on household_id alone is the one to use; `+ 0` keeps SQLite's planner from
# taking a (municipality, …) index instead and scanning the whole municipality
_SELECT_BY_HOUSEHOLD = _SELECT.replace("p.municipality_id = %s", "p.municipality_id + 0 = %s")
# SQLite: each block names its (municipality, key, …) index. Its planner otherwise follows sqlite_stat1, which can be
# stale or describe another municipality's register (ANALYZE after a legacy import of a town with few distinct
# names made it scan the whole table for every chunk of keys: 44 s of queries instead of ≈ 1 s in bench-match)
SQLITE_INDEX = {"name_var_key": "person_name_var_key_layer", "kana_loose_key": "person_kana_loose_key_layer",
                "birth_date": "person_birth_date", "given_key": "person_given_key"}


def _run(column: str, values, select=_SELECT, tail=()) -> list:
    m = require_municipality()
    values = list(dict.fromkeys(v for v in values if v not in (None, "")))
    out = []
    if not values:
        return out
    if connection.vendor == "sqlite":  # the date as stored (text): no per-row conversion to a date object
        select = select.replace("p.birth_date", "CAST(p.birth_date AS TEXT)", 1)
        if column in SQLITE_INDEX:
            select = select.replace(f"FROM {_T} p ", f"FROM {_T} p INDEXED BY {SQLITE_INDEX[column]} ", 1)
    with connection.cursor() as cur:
        for i in range(0, len(values), CHUNK):
            part = values[i:i + CHUNK]
            cur.execute(f"{select} AND p.{column} IN ({', '.join(['%s'] * len(part))})",
                        [m.pk, Status.RESIDENT.value, *tail, *part])
            out.extend(cur.fetchall())
    return out


def by_name_variant_light(keys) -> list:
    """Residents whose full name (family + given) meets one of `keys` at the variant layer (LIGHT_COLUMNS)."""
    return _run("name_var_key", keys, _SELECT_LIGHT)


def by_kana_loose_light(keys) -> list:
    """Residents whose full reading meets one of `keys` (loose kana key), as LIGHT_COLUMNS."""
    return _run("kana_loose_key", keys, _SELECT_LIGHT)


def by_name_variant(keys) -> list:
    """Residents whose full name (family + given) meets one of `keys` at the variant layer."""
    return _run("name_var_key", keys)


def by_kana_loose(keys) -> list:
    """Residents whose full reading meets one of `keys` (loose kana key)."""
    return _run("kana_loose_key", keys)


def by_birth_date_light(dates) -> list:
    """Residents born on one of `dates` (datetime.date), as narrow rows (LIGHT_COLUMNS)."""
    return _run("birth_date", [d.isoformat() if connection.vendor == "sqlite" else d for d in dates], _SELECT_LIGHT)


def by_given_key_light(keys, born_from) -> list:
    """Residents born on or after `born_from` whose given name is one of `keys` as written (given_key), as narrow
    rows (LIGHT_COLUMNS): children written by given name only."""
    if connection.vendor == "sqlite":  # `+`: not the birth-date index (every child of the register), the given name's
        return _run("given_key", keys, _SELECT_LIGHT + " AND +p.birth_date >= %s", tail=[born_from.isoformat()])
    return _run("given_key", keys, _SELECT_LIGHT + " AND p.birth_date >= %s", tail=[born_from])


def by_ids(ids) -> list:
    """Full candidate rows of the given persons (residents only)."""
    return _run("id", ids)


def by_household(household_ids) -> list:
    """The current residents of the given households."""
    return _run("household_id", household_ids, _SELECT_BY_HOUSEHOLD)
