"""Sharding by municipality on Citus, on paper (docs/scale-out.md): which tables would be distributed by
`municipality_id`, which would be reference tables, and what in today's schema stands in the way. The test
(tests/test_continuity_scaleout.py) checks what already holds: every tenant table carries its municipality, and
every foreign key between two tenant tables joins rows of the same municipality (co-located), in the schema and in
the data."""
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, models

from jichitai.guard.db import EXEMPT, owner_session


@dataclass
class Plan:
    distributed: list = field(default_factory=list)      # tables with a NOT NULL municipality column
    nullable: list = field(default_factory=list)          # municipality column that may be NULL (platform rows)
    children: dict = field(default_factory=dict)          # table -> parent table (no municipality column)
    reference: list = field(default_factory=list)         # platform tables (copied to every node)
    unique_without_muni: dict = field(default_factory=dict)  # table -> unique column sets without municipality_id
    cross_fks: list = field(default_factory=list)         # (table, column, parent): distributed → distributed by id
    ref_fks: list = field(default_factory=list)           # (table, column, parent): distributed → reference (fine)


def _muni(m):
    try:
        f = m._meta.get_field("municipality")
    except Exception:
        return None
    return f if getattr(f, "concrete", False) else None


def _models():
    return sorted((m for m in apps.get_models(include_auto_created=True)
                   if m._meta.managed and not m._meta.proxy), key=lambda m: m._meta.db_table)


def plan() -> Plan:
    p = Plan()
    ms = _models()
    tenant = {}
    for m in ms:
        f = _muni(m)
        if f is not None:
            tenant[m] = f
            (p.nullable if f.null else p.distributed).append(m._meta.db_table)
    # children: required FK (transitively) to a tenant table
    grew = True
    reach = set(tenant)
    while grew:
        grew = False
        for m in ms:
            if m in reach:
                continue
            for f in m._meta.concrete_fields:
                if isinstance(f, models.ForeignKey) and not f.null and f.related_model in reach:
                    p.children[m._meta.db_table] = f.related_model._meta.db_table
                    reach.add(m)
                    grew = True
                    break
    p.reference = [m._meta.db_table for m in ms if m not in reach]
    for m in tenant:
        t = m._meta.db_table
        sets = [[m._meta.pk.column]]
        sets += [[m._meta.get_field(n).column for n in fs] for fs in m._meta.unique_together]
        sets += [[m._meta.get_field(n).column for n in c.fields] for c in m._meta.constraints
                 if isinstance(c, models.UniqueConstraint) and c.fields]
        sets += [[f.column] for f in m._meta.concrete_fields if f.unique and not f.primary_key]
        bad = [s for s in sets if tenant[m].column not in s]
        if bad:
            p.unique_without_muni[t] = bad
        for f in m._meta.concrete_fields:
            if isinstance(f, models.ForeignKey) and f.name != "municipality":
                target = (t, f.column, f.related_model._meta.db_table)
                (p.cross_fks if f.related_model in tenant else p.ref_fks).append(target)
    return p


def exempt_tables():
    out = set()
    for label in EXEMPT:
        app, name = label.split(".")
        out.add(apps.get_model(app, name)._meta.db_table)
    return out


def misplaced_rows() -> dict:
    """{"table.column": rows} whose referenced row belongs to another municipality (should all be 0: the foreign
    keys between tenant tables are co-located)."""
    p = plan()
    qn = connection.ops.quote_name
    out = {}
    muni_col = {m._meta.db_table: _muni(m).column for m in _models() if _muni(m) is not None}
    with owner_session("scale-out check: co-location of foreign keys across every municipality"):
        with connection.cursor() as c:
            for t, col, parent in p.cross_fks:
                pk = next(m._meta.pk.column for m in _models() if m._meta.db_table == parent)
                c.execute(f"SELECT count(*) FROM {qn(t)} c JOIN {qn(parent)} p ON p.{qn(pk)} = c.{qn(col)} "
                          f"WHERE c.{qn(muni_col[t])} IS NOT NULL AND p.{qn(muni_col[parent])} IS NOT NULL "
                          f"AND c.{qn(muni_col[t])} <> p.{qn(muni_col[parent])}")
                out[f"{t}.{col}"] = c.fetchone()[0]
    return out
