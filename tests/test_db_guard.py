"""Isolation and append-only enforced by the database as well (docs/architecture.md, "Tenant isolation").

1. The build fails when a model with a municipality column is not tenant-scoped (unless exempt, with a reason), or
   when cross-tenant access (`all_tenants`, `all_chains`, `cross_tenant`, `owner_session`) or a raw cursor
   (`connection.cursor`, `.raw(`, `.extra(`, psycopg) is used outside the allow-listed modules below.
2. PostgreSQL: a raw SELECT without a municipality filter inside A's scope returns none of B's rows; with no scope
   it returns nothing; cross_tenant() sees both.
3. Both engines: UPDATE and DELETE of history and audit rows fail at the database (raw SQL, past the ORM); the one
   purge path deletes a whole municipality and nothing else.
"""
import datetime as dt
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from jichitai.audit.actions import record_event
from jichitai.audit.models import AuditEvent
from jichitai.guard import db as guard
from jichitai.guard.purge import purge_municipality
from jichitai.residents.models import Household, Person, PersonHistory
from jichitai.tenancy.scope import TenantModel, TenantScopeError, cross_tenant, tenant_scope

ROOT = Path(__file__).resolve().parent.parent
PG = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row-level security is PostgreSQL's")

# Not TenantModel subclasses, but scoped by their own default manager.
SCOPED_MANAGER_MODELS = {"audit.AuditEvent": "ScopedAuditManager; municipality NULL for the platform chain"}

# Modules allowed to cross tenants or to use raw SQL, and why. Paths relative to the repository.
CROSS_TENANT_ALLOWED = {
    "src/jichitai/tenancy/scope.py": "defines the managers and cross_tenant()",
    "src/jichitai/tenancy/platform_stats.py": "operator statistics: resident counts per municipality",
    "src/jichitai/audit/models.py": "defines all_chains",
    "src/jichitai/audit/verify.py": "`audit verify`: every chain",
    "src/jichitai/audit/portable.py": "audit chain export / restore and offline segments: whole chains by key",
    "src/jichitai/api/models.py": "defines FeedEntry.all_tenants (append-only queryset)",
    "src/jichitai/api/auth.py": "an API key is looked up by its prefix before the municipality is known",
    "src/jichitai/api/management/commands/api_client.py": "the platform's command lists and revokes any client",
    "src/jichitai/gaiji/models.py": "defines GaijiMappingEvent.all_tenants (append-only queryset)",
    "src/jichitai/residents/models.py": "defines PersonHistory.all_tenants (append-only queryset)",
    "src/jichitai/migration/state.py": "migration verification state of one named municipality (counts, digests)",
    "src/jichitai/guard/db.py": "defines owner_session(); applies policies and triggers as the owner",
    "src/jichitai/guard/purge.py": "the one sanctioned purge path",
    "src/jichitai/guard/management/commands/migrate.py": "migrate runs as the schema owner",
    "src/jichitai/guard/management/commands/flush.py": "flush runs as the schema owner",
    "src/jichitai/demo/bulk.py": "bulk COPY as the owner (PostgreSQL refuses COPY FROM under RLS); rows checked",
    "src/jichitai/disaster/crossarea.py": "広域避難: a host reads a grant of the origin (checked before any lookup)",
    "src/jichitai/platform/queries.py": "fit-gap table and 割り勘 measures: counts and requirement texts across "
                                        "municipalities (no personal data)",
    "src/jichitai/platform/exit.py": "contract exit: verifies that no row of the leaving municipality is left",
    "benchmarks/": "benchmarks measure across municipalities and create indexes",
    "src/jichitai/continuity/backup.py": "backup / restore of whole tables (every tenant) as the schema owner",
    "src/jichitai/continuity/scaleout.py": "scale-out check: foreign keys co-located across every municipality",
}
RAW_SQL_ALLOWED = {
    "src/jichitai/audit/actions.py": "the audit append: three plain statements on every request",
    "src/jichitai/audit/portable.py": "opening an offline segment reads the parent chain head under its lock",
    "src/jichitai/tenancy/auth.py": "sign-in lockout: one atomic conditional UPDATE … RETURNING reserves an attempt",
    "src/jichitai/residents/rows.py": "the register's hot path (conditional UPDATE, history INSERT)",
    "src/jichitai/api/feed.py": "feed sequencing (snapshot xmax, id scans)",
    "src/jichitai/demo/bulk.py": "bulk loading: executemany / COPY",
    "src/jichitai/interchange/export.py": "export: COPY TO / server-side cursors, snapshots for worker processes",
    "src/jichitai/interchange/importer.py": "standard-layout import through the bulk writer",
    "src/jichitai/migration/importer.py": "legacy import through the bulk writer",
    "src/jichitai/disaster/bulk.py": "evacuee registration through the bulk writer (executemany / COPY)",
    "src/jichitai/guard/db.py": "row-level security, grants, triggers, session settings",
    "src/jichitai/guard/purge.py": "the one sanctioned purge path",
    "src/jichitai/continuity/offline.py": "the offline kit copies one municipality's rows table by table (plain "
                                          "cursor inside its tenant scope, executemany into the kit's SQLite)",
    "src/jichitai/matching/queries.py": "matching: blocking reads of the match index, thousands of rows as tuples",
    "benchmarks/": "benchmarks (EXPLAIN, indexes, ANALYZE, database creation)",
    "src/jichitai/continuity/backup.py": "backup / restore: every table read and loaded in bulk (COPY, executemany)",
    "src/jichitai/continuity/service.py": "creates and drops the scratch database of a verification",
    "src/jichitai/continuity/drill.py": "failover drill: waits for the cluster's primary, reads what it kept",
    "src/jichitai/continuity/scaleout.py": "scale-out check: reads the catalog (foreign keys, unique constraints)",
}
CROSS_RE = re.compile(r"\.all_tenants\b|\.all_chains\b|\bcross_tenant\(|\bowner_session\(")
RAW_RE = re.compile(r"\bconnection\.cursor\(|\.cursor\(\)|\.raw\(|\.extra\(|\bimport psycopg|\bpsycopg\.")


def _allowed(path, allow):
    return any(path == k or (k.endswith("/") and path.startswith(k)) for k in allow)


def _sources():
    for base in ("src/jichitai", "benchmarks"):
        for p in sorted((ROOT / base).rglob("*.py")):
            rel = p.relative_to(ROOT).as_posix()
            if "/migrations/" in rel:
                continue
            yield rel, p.read_text(encoding="utf-8")


def _code_lines(text):
    in_doc = False
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.count('"""') == 1:
            in_doc = not in_doc
            continue
        if in_doc or s.startswith("#") or s.startswith('"""'):
            continue
        yield i, line.split("  #")[0]


def test_every_model_with_a_municipality_column_is_tenant_scoped_or_exempt_with_a_reason():
    offenders = []
    for model in apps.get_models():
        try:
            f = model._meta.get_field("municipality")
        except Exception:
            continue
        label = f"{model._meta.app_label}.{model.__name__}"
        if label in guard.EXEMPT:
            assert len(guard.EXEMPT[label]) > 20, f"{label}: give the reason"
            continue
        scoped = issubclass(model, TenantModel) or label in SCOPED_MANAGER_MODELS
        if not scoped or not f.concrete:
            offenders.append(label)
    assert not offenders, f"not tenant-scoped and not exempt: {offenders} (derive from TenantModel, or add to " \
                          f"jichitai.guard.db.EXEMPT with the reason)"
    # and the exemptions name real models
    for label in guard.EXEMPT:
        apps.get_model(label)
    # the scoped managers really refuse unscoped access
    for model in guard.tenant_models():
        with pytest.raises(TenantScopeError):
            model._default_manager.all()


def test_cross_tenant_access_and_raw_sql_only_in_allow_listed_modules():
    cross, raw = [], []
    for rel, text in _sources():
        for i, line in _code_lines(text):
            if CROSS_RE.search(line) and not _allowed(rel, CROSS_TENANT_ALLOWED):
                cross.append(f"{rel}:{i}: {line.strip()}")
            if RAW_RE.search(line) and not _allowed(rel, RAW_SQL_ALLOWED):
                raw.append(f"{rel}:{i}: {line.strip()}")
    assert not cross, "cross-tenant access outside the allow-list:\n" + "\n".join(cross)
    assert not raw, "raw SQL outside the allow-list:\n" + "\n".join(raw)
    # the allow-lists name files that exist
    for k in {**CROSS_TENANT_ALLOWED, **RAW_SQL_ALLOWED}:
        assert (ROOT / k).exists(), k


def test_the_checks_catch_an_offender(tmp_path):
    """The pattern check is not vacuous: each forbidden spelling is found."""
    for line in ("Person.all_tenants.count()", "AuditEvent.all_chains.all()", "with cross_tenant('x'):"):
        assert CROSS_RE.search(line)
    for line in ("with connection.cursor() as c:", "Person.objects.raw('x')", "qs.extra(where=[])",
                 "import psycopg", "psycopg.connect()"):
        assert RAW_RE.search(line)
    assert not _allowed("src/jichitai/residents/views.py", CROSS_TENANT_ALLOWED)


def test_tables_covered(db):
    tables = {m._meta.db_table for m in guard.tenant_models()}
    for model in (Person, PersonHistory, Household, AuditEvent):
        assert model._meta.db_table in tables
    for label in ("api.ApiClient", "api.FeedHead", "api.FeedEntry", "certificates.Issuance",
                  "certificates.SigningKey", "gaiji.GaijiMapping", "gaiji.GaijiMappingEvent",
                  "tenancy.NumberSequence", "legacy_migration.MigrationRun", "legacy_migration.LegacyKey"):
        assert apps.get_model(label)._meta.db_table in tables, label
    children = {m._meta.label for m, _ in guard.child_models()}
    assert {"legacy_migration.MigrationRow", "legacy_migration.MigrationChunk"} <= children
    append_only = {m._meta.label for m in guard.append_only_models()}
    assert {"residents.PersonHistory", "audit.AuditEvent", "gaiji.GaijiMappingEvent", "api.FeedEntry"} <= append_only


# ---------------------------------------------------------------- PostgreSQL row-level security

def _raw(sql, params=()):
    with connection.cursor() as c:
        c.execute(sql, params)
        return c.fetchall()


@pytest.fixture
def two_towns(town_a, town_b):
    a = town_a.family()
    b = town_b.family(family_name="綾野", kana="アヤノ", address="大字南俣999番地")
    with tenant_scope(town_b.m):
        record_event(town_b.m, "test.b_only", detail={"x": 1})
    return town_a, town_b, a, b


RLS_TABLES = [Person, PersonHistory, Household, AuditEvent]


@PG
def test_raw_select_without_municipality_filter_sees_only_the_town_in_scope(two_towns):
    town_a, town_b, a, b = two_towns
    from jichitai.certificates.models import Issuance, SigningKey
    from jichitai.certificates.signing import signing_key
    from jichitai.tenancy.models import NumberSequence

    with tenant_scope(town_b.m):
        signing_key(town_b.m)  # B has a signing key
    for model in RLS_TABLES + [NumberSequence, SigningKey, Issuance]:
        t = model._meta.db_table
        with tenant_scope(town_a.m):
            munis = {r[0] for r in _raw(f"SELECT municipality_id FROM {t}")}
            assert town_b.m.pk not in munis, t
            if model in RLS_TABLES:
                assert munis == {town_a.m.pk}, t
        with tenant_scope(town_b.m):
            assert town_a.m.pk not in {r[0] for r in _raw(f"SELECT municipality_id FROM {t}")}, t
        # no scope at all: nothing of any town (the audit table's platform rows aside)
        assert not [r for r in _raw(f"SELECT municipality_id FROM {t}") if r[0] is not None], t
        with cross_tenant("test: both towns"):
            if model in RLS_TABLES:
                assert {town_a.m.pk, town_b.m.pk} <= {r[0] for r in _raw(f"SELECT municipality_id FROM {t}")}, t
    # a search by name of B's family from A's scope: nothing, even through the ORM's unscoped manager
    with tenant_scope(town_a.m):
        assert not _raw(f"SELECT id FROM {Person._meta.db_table} WHERE family_name = %s", ["綾野"])
        assert not Person.all_tenants.filter(family_name="綾野").exists()
        assert not AuditEvent.all_chains.filter(action="test.b_only").exists()


@PG
def test_raw_write_into_another_town_is_refused(two_towns):
    town_a, town_b, a, b = two_towns
    with tenant_scope(town_a.m):
        n = _rowcount(f"UPDATE {Person._meta.db_table} SET address = 'x' WHERE id = %s", [b[0].pk])
        assert n == 0  # B's row is invisible: nothing updated
        with pytest.raises(DatabaseError), transaction.atomic():
            _rowcount(f"UPDATE {Person._meta.db_table} SET municipality_id = %s WHERE id = %s",
                      [town_b.m.pk, a[0].pk])  # moving a row to B: WITH CHECK refuses
    with cross_tenant("test"):
        assert Person.all_tenants.get(pk=a[0].pk).municipality_id == town_a.m.pk


@PG
def test_runtime_connection_is_not_a_superuser(db):
    (user, superuser, bypass), = _raw("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                                      "WHERE rolname = current_user")
    assert user == guard.app_role() and not superuser and not bypass
    rows = _raw("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
                [[m._meta.db_table for m in guard.tenant_models()]])
    assert len(rows) == len(guard.tenant_models())
    assert all(r[1] and r[2] for r in rows), rows


def _rowcount(sql, params=()):
    with connection.cursor() as c:
        c.execute(sql, params)
        return c.rowcount


# ---------------------------------------------------------------- append-only at the database (both engines)

def _refused(sql, params):
    with pytest.raises(DatabaseError) as e, transaction.atomic():
        with connection.cursor() as c:
            c.execute(sql, params)
    return str(e.value)


@pytest.mark.parametrize("owner", [False, True])
def test_history_and_audit_refuse_update_and_delete_at_the_database(env, owner):
    """Raw SQL past the ORM's append-only querysets; as the runtime role and (PostgreSQL) as the schema owner."""
    record_event(env.m, "test.event")
    h = PersonHistory.objects.filter(person=env.head).first()
    e = AuditEvent.objects.order_by("-seq").first()
    ht, at = PersonHistory._meta.db_table, AuditEvent._meta.db_table
    ctx = guard.owner_session("test: as the owner") if owner else _null()
    with ctx:
        for sql, params in ((f"UPDATE {ht} SET note = 'x' WHERE id = %s", [h.pk]),
                            (f"DELETE FROM {ht} WHERE id = %s", [h.pk]),
                            (f"UPDATE {at} SET detail = '{{}}' WHERE id = %s", [e.pk]),
                            (f"DELETE FROM {at} WHERE id = %s", [e.pk]),
                            (f"DELETE FROM {at}", [])):
            msg = _refused(sql, params)
            if owner or connection.vendor == "sqlite":
                assert "追記専用" in msg and "append-only" in msg, msg
    assert PersonHistory.objects.filter(pk=h.pk, note=h.note).exists()
    assert AuditEvent.objects.filter(pk=e.pk, detail=e.detail).exists()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_purge_deletes_one_municipality_and_is_audited(two_towns):
    town_a, town_b, a, b = two_towns
    with tenant_scope(town_b.m):
        b_counts = (Person.objects.count(), PersonHistory.objects.count(), AuditEvent.objects.count())
    counts = purge_municipality(town_a.m, reason="test: contract exit")
    assert counts[Person._meta.db_table] == 3 and counts[PersonHistory._meta.db_table] >= 3
    with tenant_scope(town_a.m):
        assert not Person.objects.exists() and not PersonHistory.objects.exists()
        assert not AuditEvent.objects.exists() and not Household.objects.exists()
    with tenant_scope(town_b.m):
        assert (Person.objects.count(), PersonHistory.objects.count(), AuditEvent.objects.count()) == b_counts
    with tenant_scope(None):
        ev = AuditEvent.all_chains.filter(municipality=None, action="tenant.purged").get()
    assert ev.object_id == town_a.m.code and "contract exit" in ev.detail
    # the permit is gone: the triggers refuse again
    from jichitai.guard.models import PurgePermit

    with guard.owner_session("test"):
        assert not PurgePermit.objects.exists()
    with tenant_scope(town_b.m):
        _refused(f"DELETE FROM {PersonHistory._meta.db_table}", [])
