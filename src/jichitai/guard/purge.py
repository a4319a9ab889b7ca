"""The one sanctioned way to delete a whole municipality's rows, history and audit chain included.

Append-only tables refuse DELETE at the database (triggers, both engines) unless the running transaction holds a
`PurgePermit` naming the municipality. Only `purge_municipality` creates one: inside one transaction it inserts the
permit, deletes the municipality's rows from every tenant table (the same table list the row-level security
policies use, so a table added later is purged too), removes the permit and appends one `tenant.purged` event with
the counts and the reason to the platform audit chain (the municipality's own chain is among what is deleted).

Callers: `demo.seed` (`seed_demo --reset`, demo tenants only) and, later, contract exit. The municipality row itself,
its staff accounts and its 個別 certificate settings are kept.
"""
from django.db import connection, models, transaction

from jichitai.tenancy.scope import tenant_scope

from .db import child_models, owner_session, tenant_models
from .models import PurgePermit


class PurgeRefused(RuntimeError):
    pass


def _order(targets):
    """Delete order: a table before the tables its rows point to (PROTECT foreign keys; links that are nulled
    first do not count)."""
    deps = {m: set() for m in targets}
    append_only = _append_only()
    for m in targets:
        for f in m._meta.concrete_fields:
            if f.null and m not in append_only:
                continue
            if isinstance(f, models.ForeignKey) and f.related_model in deps and f.related_model is not m:
                deps[f.related_model].add(m)  # f.related_model must wait until m is emptied
    out, seen = [], set()

    def visit(m, stack=()):
        if m in seen:
            return
        if m in stack:
            return  # a cycle: broken by nulling the nullable link first (see below)
        for d in sorted(deps[m], key=lambda x: x._meta.db_table):
            visit(d, stack + (m,))
        seen.add(m)
        out.append(m)

    for m in sorted(targets, key=lambda x: x._meta.db_table):
        visit(m)
    return out


def purge_municipality(municipality, *, reason: str, actor=None, terminal="system"):
    """Delete every row of `municipality` from every tenant table. Returns {table: rows deleted}. Audited."""
    from jichitai.audit.actions import append
    from jichitai.audit.models import AuditChain
    from jichitai.certificates.models import VerificationLog

    if not reason:
        raise PurgeRefused("purge needs a reason / 削除の理由が必要です")
    qn = connection.ops.quote_name
    tenants = tenant_models()
    children = dict(child_models())
    targets = list(tenants) + list(children) + [VerificationLog]
    counts = {}
    with owner_session(f"purge municipality {municipality.code}"), tenant_scope(municipality), transaction.atomic():
        txid = 0
        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("SELECT txid_current()")
                txid = c.fetchone()[0]
        permit = PurgePermit.objects.create(municipality_id=municipality.pk, txid=txid, reason=reason[:200])
        with connection.cursor() as c:
            # cycles (a household's head → person → household): null the nullable links of mutable tables first
            for m in targets:
                if m in children:
                    continue
                for f in m._meta.concrete_fields:
                    if (isinstance(f, models.ForeignKey) and f.null and f.related_model in targets
                            and f.related_model is not m and m not in _append_only()):
                        c.execute(f"UPDATE {qn(m._meta.db_table)} SET {qn(f.column)} = NULL "
                                  f"WHERE municipality_id = %s AND {qn(f.column)} IS NOT NULL", [municipality.pk])
            for m in _order(targets):
                t = qn(m._meta.db_table)
                if m in children:
                    fk = children[m]
                    parent = fk.related_model
                    c.execute(f"DELETE FROM {t} WHERE {qn(fk.column)} IN (SELECT {qn(fk.target_field.column)} "
                              f"FROM {qn(parent._meta.db_table)} WHERE municipality_id = %s)", [municipality.pk])
                else:
                    c.execute(f"DELETE FROM {t} WHERE municipality_id = %s", [municipality.pk])
                if c.rowcount:
                    counts[m._meta.db_table] = c.rowcount
        AuditChain.objects.filter(key=municipality.code).delete()
        # the chain's signed checkpoints (outside the database) describe the chain just deleted: set aside (renamed,
        # never deleted) once the purge has committed, so a new chain of the same code does not meet them
        from jichitai.audit.checkpoints import set_aside_checkpoints

        code = municipality.code
        transaction.on_commit(lambda: set_aside_checkpoints(code))
        PurgePermit.objects.filter(pk=permit.pk).delete()
        with tenant_scope(None):
            append(None, "tenant.purged", actor=actor, terminal=terminal, object_type="municipality",
                   object_id=municipality.code, detail={"reason": reason, "deleted": counts})
    return counts


def _append_only():
    from .db import append_only_models

    return set(append_only_models())
