"""Writing registered evacuees and their first movements in bulk: plain tuples through the project's bulk writer
(`demo.bulk.BulkTables`: executemany on SQLite, COPY on PostgreSQL with the rows' municipality checked), ids
reserved up front — no ORM object per row. Runs inside the registering action's transaction."""
import json

from django.db import connection

from jichitai.demo.bulk import BulkTables

from .models.evacuees import Evacuee, EvacueeMovement


def _values(tables, fields, row):
    out = []
    for f in fields:
        v = row.get(f.attname, f.get_default() if f.has_default() else None)
        kind = f.get_internal_type()
        if kind == "JSONField":
            v = json.dumps(v, ensure_ascii=False)
        elif kind == "DateField":
            v = tables.date(v)
        elif kind == "DateTimeField":
            v = tables.datetime(v)
        out.append(v)
    return tuple(out)


def insert_evacuees(evacuees: list[dict], movements: list[dict]):
    """`evacuees`: dicts of Evacuee attnames (no id); `movements`: dicts of EvacueeMovement attnames whose
    `evacuee_id` is the index of its evacuee in `evacuees`. Returns the queryset of the new evacuees (id order)."""
    tables = BulkTables(connection.vendor)
    ev_fields = list(Evacuee._meta.concrete_fields)
    mv_fields = list(EvacueeMovement._meta.concrete_fields)
    with connection.cursor() as cur:
        start = tables.reserve_ids(cur, Evacuee, len(evacuees))
        rows = []
        for i, e in enumerate(evacuees):
            rows.append(_values(tables, ev_fields, {**e, "id": start + i}))
        tables.insert(cur, Evacuee, ev_fields, rows)
        mstart = tables.reserve_ids(cur, EvacueeMovement, len(movements))
        tables.insert(cur, EvacueeMovement, mv_fields, [
            _values(tables, mv_fields, {**m, "id": mstart + i, "evacuee_id": start + m["evacuee_id"]})
            for i, m in enumerate(movements)])
    return Evacuee.objects.filter(id__gte=start, id__lt=start + len(evacuees)).order_by("id")


def set_duplicate_groups(pairs):
    """[(group key, evacuee id)]: one executemany (a big CSV can make hundreds of groups). Runs inside the
    registering action's transaction, under the table's row-level security on PostgreSQL."""
    if not pairs:
        return
    table = connection.ops.quote_name(Evacuee._meta.db_table)
    with connection.cursor() as cur:
        cur.executemany(f"UPDATE {table} SET duplicate_group = %s WHERE id = %s", list(pairs))
