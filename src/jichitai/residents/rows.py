"""Plain-SQL reads and writes of single person rows for the change hot path (≈ 500 転居/s on SQLite).

Django's ORM compiles a 60-column SELECT with a join, a wide UPDATE and an INSERT on every call; here the SQL is
built once per process and the values go through the same field converters Django uses. Tenant scoping is kept:
every statement names the municipality from `require_municipality()`, which raises outside a scope.
"""
from django.db import connection

from jichitai.tenancy.scope import require_municipality

from .models import Household, Person, PersonHistory

_P = Person._meta
_H = Household._meta
_PFIELDS = list(_P.concrete_fields)
_HFIELDS = list(_H.concrete_fields)
_SELECT = "SELECT {pcols}, {hcols} FROM {pt} p JOIN {ht} h ON h.{hpk} = p.{hfk} WHERE p.{ppk} = %s AND p.{pm} = %s".format(
    pcols=", ".join(f"p.{f.column}" for f in _PFIELDS), hcols=", ".join(f"h.{f.column}" for f in _HFIELDS),
    pt=_P.db_table, ht=_H.db_table, hpk=_H.pk.column, hfk=_P.get_field("household").column, ppk=_P.pk.column,
    pm=_P.get_field("municipality").column)
_HIST_FIELDS = [f for f in PersonHistory._meta.concrete_fields if f.attname != "id"]
_HIST_INSERT = "INSERT INTO {t} ({cols}) VALUES ({params})".format(
    t=PersonHistory._meta.db_table, cols=", ".join(f.column for f in _HIST_FIELDS),
    params=", ".join(["%s"] * len(_HIST_FIELDS)))
_converters = {}


def _converters_for(fields, table):
    key = (connection.vendor, table)
    if key not in _converters:
        _converters[key] = [
            (connection.ops.get_db_converters(f.get_col(table)) + f.get_db_converters(connection), f)
            for f in fields
        ]
    return _converters[key]


def _convert(values, convs):
    out = []
    for value, (fns, field) in zip(values, convs):
        for fn in fns:
            value = fn(value, field.get_col(field.model._meta.db_table), connection)
        out.append(value)
    return out


def load_person(pk) -> Person | None:
    """The person with its household, of the current municipality only (None if not there)."""
    m = require_municipality()
    with connection.cursor() as cur:
        cur.execute(_SELECT, [pk, m.pk])
        row = cur.fetchone()
    if row is None:
        return None
    n = len(_PFIELDS)
    pvals = _convert(row[:n], _converters_for(_PFIELDS, _P.db_table))
    hvals = _convert(row[n:], _converters_for(_HFIELDS, _H.db_table))
    person = Person.from_db(connection.alias, [f.attname for f in _PFIELDS], pvals)
    person.household = Household.from_db(connection.alias, [f.attname for f in _HFIELDS], hvals)
    person._loaded["household_id"] = person.household_id
    return person


def update_person(person: Person, expected_version: int, values: dict) -> bool:
    """UPDATE the given columns and bump the version, only if the version is still `expected_version`."""
    m = require_municipality()
    cols = [(_P.get_field(k) if not k.endswith("_id") else _P.get_field(k[:-3]), v) for k, v in values.items()]
    sets = ", ".join([f"{f.column} = %s" for f, _ in cols] + ["version = %s"])
    params = [f.get_db_prep_save(v, connection) for f, v in cols] + [expected_version + 1,
                                                                     person.pk, expected_version, m.pk]
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {_P.db_table} SET {sets} WHERE id = %s AND version = %s AND municipality_id = %s",
                    params)
        return cur.rowcount == 1


def insert_history(**values) -> None:
    m = require_municipality()
    values["municipality_id"] = m.pk
    row = PersonHistory(**values)
    with connection.cursor() as cur:
        cur.execute(_HIST_INSERT, [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _HIST_FIELDS])
