"""Tenant isolation and append-only, enforced by the database as well as by the ORM (docs/architecture.md,
"Tenant isolation" and "Append-only and the purge path").

PostgreSQL
  * Every tenant table (a model with a `municipality` column that is not on `EXEMPT`, and tables that belong to one
    through a required foreign key, e.g. migration chunks of a run) has ROW LEVEL SECURITY, FORCEd, with one policy:
    a row is visible and writable when its municipality is the one set for the session (`jichitai.municipality`),
    or when `jichitai.scope` is 'all' (only inside `tenancy.scope.cross_tenant(...)`). The audit table's platform
    rows (municipality NULL) are visible when no municipality is set.
  * The runtime connection runs as a non-superuser, non-BYPASSRLS role (`JICHITAI_DB_APP_ROLE`, default
    `jichitai_app`, created if missing) through `set_config('role', …)`; `migrate`, `flush`, the purge path and
    bulk COPY run as the login role (`owner_session`).
  * The session settings follow the context variables of `tenancy.scope` through a connection execute-wrapper:
    one `set_config` statement only when the wanted state differs from what this connection last set (once per
    request in practice, not per query). A rollback (to a savepoint or of the transaction) undoes session settings
    made inside it, so it forgets the cached state and the next statement sets it again.

Both engines
  * Append-only tables (every model whose default manager is an `AppendOnlyQuerySet`: residents' history, audit
    events, 外字 events, feed positions) have triggers refusing UPDATE and DELETE, except DELETE of a municipality
    named in a `PurgePermit` of the running transaction (`jichitai.guard.purge`, the one sanctioned path).

Policies, grants and triggers are (re)applied idempotently after every `migrate` (post_migrate), so tables added
later by any app are covered without further work.
"""
import contextlib
import contextvars
import logging

from django.apps import apps
from django.conf import settings
from django.db import connection as default_connection
from django.db import connections, models

from jichitai.tenancy.scope import AppendOnlyQuerySet, cross_tenant_reason, current_municipality

logger = logging.getLogger(__name__)

# Models with a municipality column that are deliberately not tenant-scoped, with the reason. tests/test_db_guard.py
# fails the build for any other model with a municipality column that is not a TenantModel (or scoped manager).
EXEMPT = {
    "tenancy.StaffUser": "read at sign-in before any municipality is known (like Django's auth); holds no resident "
                         "data; staff pages filter by the signed-in user's municipality",
    "certificates.CertificateSetting": "tiered settings: 標準 and 県版 rows have no municipality; read and written "
                                       "only through certificates.config, which resolves for one municipality",
    "platform.SettingValue": "the tier engine's values: 標準・標準追加・県版 rows have no municipality; read and "
                             "written only through platform.engine, which resolves for one municipality",
    "platform.SettingProposal": "個別 values awaiting approval: read by the approver (the operator or another "
                                "municipality's coordinator); only through platform.engine",
    "platform.RequestMetric": "aggregated request counters per municipality and day for the SLA report and 利用割 "
                              "(counts only); written by the metrics middleware before and after tenant scope",
    "platform.ContractExit": "the platform's record of a municipality leaving: it must outlive the tenant's data "
                             "(the deletion certificate); no personal data",
    "certificates.VerificationLog": "platform log of the public verification page, written before a code names a "
                                    "municipality (the code may name none); holds no personal data",
}

APPEND_ONLY_MESSAGE = "追記専用の記録は変更・削除できません / append-only rows are never updated or deleted"
POLICY = "jichitai_tenant"
_owner = contextvars.ContextVar("jichitai_db_owner", default=None)
_INERROR = 3  # psycopg.pq.TransactionStatus.INERROR


def app_role() -> str:
    return getattr(settings, "JICHITAI_DB_APP_ROLE", "jichitai_app")


@contextlib.contextmanager
def owner_session(reason: str):
    """Run as the login role (schema owner): migrations, flush, the purge path, bulk COPY (PostgreSQL refuses COPY
    FROM under row-level security; the bulk writer checks every row's municipality itself), DDL in benchmarks.
    Allow-listed modules only (tests/test_db_guard.py)."""
    if not reason:
        raise ValueError("owner_session() needs a reason")
    token = _owner.set(reason)
    try:
        yield
    finally:
        _owner.reset(token)


# ---------------------------------------------------------------- which tables

def _label(model) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def _muni_field(model):
    try:
        f = model._meta.get_field("municipality")
    except Exception:
        return None
    return f if getattr(f, "concrete", False) else None


def _concrete_models():
    return [m for m in apps.get_models() if not m._meta.abstract and not m._meta.proxy and m._meta.managed]


def tenant_models():
    """Models whose rows belong to one municipality by their own column (RLS keyed on it)."""
    return [m for m in _concrete_models() if _muni_field(m) is not None and _label(m) not in EXEMPT]


def child_models():
    """Models without a municipality column that belong to a tenant row through a required foreign key (their
    policy: the parent row is visible)."""
    tenants = set(tenant_models())
    out = []
    for m in _concrete_models():
        if m in tenants or _muni_field(m) is not None or _label(m) in EXEMPT:
            continue
        fks = [f for f in m._meta.concrete_fields
               if isinstance(f, models.ForeignKey) and not f.null and f.related_model in tenants]
        if fks:
            out.append((m, fks[0]))
    return out


def append_only_models():
    return [m for m in _concrete_models()
            if issubclass(getattr(m._default_manager, "_queryset_class", object), AppendOnlyQuerySet)]


# ---------------------------------------------------------------- keeping the session in step (PostgreSQL)

def wanted_state():
    """(role, municipality id, scope) this connection should have now."""
    if _owner.get():
        return ("", "", "all")
    m = current_municipality()
    return (app_role(), "" if m is None else str(m.pk), "all" if cross_tenant_reason() else "")


def _apply(conn, want):
    role, muni, scope = want
    with conn.connection.cursor() as c:  # the driver's own cursor: not through the execute-wrappers
        c.execute("SELECT set_config('role', %s, false), set_config('jichitai.municipality', %s, false), "
                  "set_config('jichitai.scope', %s, false)", [role or "none", muni, scope])
    conn._jichitai_guard = want


def sync(conn=None):
    """Bring the session settings in step now (before a raw COPY, or before `SET TRANSACTION …`, which must be a
    transaction's first statement)."""
    conn = conn or default_connection
    if conn.vendor != "postgresql":
        return
    conn.ensure_connection()  # (a new connection installs the wrapper)
    if getattr(conn, "_jichitai_guard_installed", False):
        want = wanted_state()
        if conn._jichitai_guard != want:
            _apply(conn, want)


def _wrapper(execute, sql, params, many, context):
    conn = context["connection"]
    want = wanted_state()
    if conn._jichitai_guard != want and conn.connection.info.transaction_status != _INERROR:
        # (in a failed transaction only a rollback runs; the state is set again after it)
        _apply(conn, want)
    return execute(sql, params, many, context)


def on_connection_created(sender, connection, **kwargs):
    from django.db.backends.base.base import NO_DB_ALIAS

    if connection.vendor != "postgresql" or connection.alias == NO_DB_ALIAS:
        return
    connection._jichitai_guard = None
    if getattr(connection, "_jichitai_guard_installed", False):
        return
    connection._jichitai_guard_installed = True
    connection.execute_wrappers.append(_wrapper)
    # a rollback undoes set_config() made inside it: forget what was set
    rollback, savepoint_rollback = connection._rollback, connection._savepoint_rollback

    # (forgotten after the rollback ran: its own statement passes the wrapper, and an aborted transaction accepts
    # nothing but the rollback)
    def _rollback():
        try:
            return rollback()
        finally:
            connection._jichitai_guard = None

    def _savepoint_rollback(sid):
        try:
            return savepoint_rollback(sid)
        finally:
            connection._jichitai_guard = None

    connection._rollback, connection._savepoint_rollback = _rollback, _savepoint_rollback


# ---------------------------------------------------------------- applying policies, grants and triggers

def on_post_migrate(sender, using="default", **kwargs):
    apply_guards(connections[using])


def apply_guards(conn):
    with owner_session("apply database guards"):
        if conn.vendor == "postgresql":
            _apply_postgresql(conn)
        elif conn.vendor == "sqlite":
            _apply_sqlite(conn)


def _q(conn, name):
    return conn.ops.quote_name(name)


def _sqlite_trigger_sql(conn, table, tenant=True):
    """Refuse UPDATE always and DELETE unless the purge permit names the row's municipality (a table without a
    municipality column, such as the platform's incident timeline, has no purge path: DELETE always refused)."""
    t = _q(conn, table)
    permit = _q(conn, _permit_table())
    base = table.replace('"', "")
    return [
        f"DROP TRIGGER IF EXISTS jichitai_ao_update_{base}",
        f"CREATE TRIGGER jichitai_ao_update_{base} BEFORE UPDATE ON {t} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE} ({base})'); END",
        f"DROP TRIGGER IF EXISTS jichitai_ao_delete_{base}",
        f"CREATE TRIGGER jichitai_ao_delete_{base} BEFORE DELETE ON {t} "
        + (f"WHEN OLD.municipality_id IS NULL OR NOT EXISTS "
           f"(SELECT 1 FROM {permit} WHERE municipality_id = OLD.municipality_id) " if tenant else "")
        + f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE} ({base})'); END",
    ]


def _permit_table():
    from .models import PurgePermit

    return PurgePermit._meta.db_table


def _apply_sqlite(conn):
    with conn.cursor() as c:
        for model in append_only_models():
            for stmt in _sqlite_trigger_sql(conn, model._meta.db_table, _muni_field(model) is not None):
                c.execute(stmt)


def drop_sqlite_triggers(conn):
    """For `flush` only (it empties every table with DELETE on SQLite); recreated right after."""
    with conn.cursor() as c:
        for model in append_only_models():
            base = model._meta.db_table
            c.execute(f"DROP TRIGGER IF EXISTS jichitai_ao_update_{base}")
            c.execute(f"DROP TRIGGER IF EXISTS jichitai_ao_delete_{base}")


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION jichitai_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' AND (to_jsonb(OLD) ->> 'municipality_id') IS NOT NULL AND EXISTS (
      SELECT 1 FROM {permit} p WHERE p.municipality_id = (to_jsonb(OLD) ->> 'municipality_id')::bigint
      AND p.txid = txid_current()) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '{message} (% %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'P0001';
END
$fn$
"""

_MUNI = "(SELECT nullif(current_setting('jichitai.municipality', true), '')::bigint)"
_ALL = "(SELECT current_setting('jichitai.scope', true) = 'all')"


def _policy_expr(conn, model):
    f = _muni_field(model)
    col = _q(conn, f.column)
    expr = f"{col} = {_MUNI} OR {_ALL}"
    if f.null:  # the audit table's platform chain: visible when no municipality is set
        expr += f" OR ({col} IS NULL AND {_MUNI} IS NULL)"
    return expr


def _child_expr(conn, model, fk):
    parent = fk.related_model
    return (f"EXISTS (SELECT 1 FROM {_q(conn, parent._meta.db_table)} p "
            f"WHERE p.{_q(conn, fk.target_field.column)} = {_q(conn, model._meta.db_table)}.{_q(conn, fk.column)})")


def _apply_postgresql(conn):
    role = app_role()
    qrole = _q(conn, role) if role else None
    with conn.cursor() as c:
        if role:
            c.execute("""
                DO $do$ BEGIN
                  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) THEN
                    BEGIN
                      EXECUTE format('CREATE ROLE %%I NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT', %s);
                    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile
                    END;
                  END IF;
                END $do$""", [role, role])
            c.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
            if c.fetchone()[0]:
                raise RuntimeError(f"データベースロール {role} が SUPERUSER または BYPASSRLS を持っています / the "
                                   f"runtime role {role} must be neither SUPERUSER nor BYPASSRLS")
            c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if not c.fetchone()[0]:
                c.execute(f"GRANT {qrole} TO current_user")
            c.execute("SELECT current_schema()")
            schema = _q(conn, c.fetchone()[0])
            c.execute(f"GRANT USAGE ON SCHEMA {schema} TO {qrole}")
            c.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {qrole}")
            c.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {qrole}")
            c.execute(f"REVOKE INSERT, UPDATE, DELETE ON {_q(conn, _permit_table())} FROM {qrole}")
        c.execute(_PG_FUNCTION.format(permit=_q(conn, _permit_table()), message=APPEND_ONLY_MESSAGE))
        for model in append_only_models():
            t = _q(conn, model._meta.db_table)
            if qrole:
                c.execute(f"REVOKE DELETE ON {t} FROM {qrole}")  # UPDATE stays: LOCK TABLE needs it; the trigger refuses
            c.execute(f"DROP TRIGGER IF EXISTS jichitai_append_only ON {t}")
            c.execute(f"CREATE TRIGGER jichitai_append_only BEFORE UPDATE OR DELETE ON {t} "
                      f"FOR EACH ROW EXECUTE FUNCTION jichitai_refuse_change()")
        targets = [(m, _policy_expr(conn, m)) for m in tenant_models()]
        targets += [(m, _child_expr(conn, m, fk)) for m, fk in child_models()]
        for model, expr in targets:
            t = _q(conn, model._meta.db_table)
            c.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
            c.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
            c.execute(f"DROP POLICY IF EXISTS {POLICY} ON {t}")
            c.execute(f"CREATE POLICY {POLICY} ON {t} USING ({expr}) WITH CHECK ({expr})")
