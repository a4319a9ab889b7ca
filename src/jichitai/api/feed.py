"""Reading the change feed: sequencing newly committed history rows, then serving a page after a cursor.

Every query here goes through the scoped managers: the caller must be inside `tenant_scope(client.municipality)`.

Why a separate sequence (FeedEntry.seq) and not PersonHistory.id as the cursor: ids are handed out at INSERT, but
rows become visible at COMMIT. A transaction T1 that inserted id 10 and commits after T2 (id 11) would be missed by
a subscriber that already read "after 11". Here a row gets its position only once it is visible (committed), under
a per-municipality lock, and always after every position already given — so a row committed later can never get a
smaller cursor than one already served. Positions are never reused or changed (FeedEntry is append-only).
"""
from django.db import connection, transaction

from jichitai.privacy import policy
from jichitai.privacy.policy import ADDRESS_FIELDS
from jichitai.residents.models import CHANGE_GROUP, ChangeKind, PersonHistory
from jichitai.tenancy.scope import require_municipality

from .models import FeedEntry, FeedHead

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SEQUENCE_BATCH = 10000  # most history rows given a position per call (the rest on the next call; has_more says so)


def _unsequenced_ids(m, after_id: int, limit: int) -> list:
    """Ids of the municipality's history rows above `after_id` without a feed position, in id order. Plain SQL so
    that PostgreSQL walks the (municipality, id) index (see _horizon) rather than the primary key."""
    table, entries = PersonHistory._meta.db_table, FeedEntry._meta.db_table
    muni = "municipality_id = ANY(ARRAY[%s])" if connection.vendor == "postgresql" else "municipality_id = %s"
    with connection.cursor() as c:
        c.execute(f"SELECT id FROM {table} h WHERE {muni} AND id > %s "
                  f"AND NOT EXISTS (SELECT 1 FROM {entries} f WHERE f.history_id = h.id) "
                  f"ORDER BY municipality_id, id LIMIT %s", [m.pk, after_id, limit])
        return [r[0] for r in c.fetchall()]


def _horizon(m) -> tuple[int, int, int]:
    """(highest history id of the municipality, snapshot xmin, snapshot xmax) in one statement's snapshot. On
    SQLite xmin/xmax are 0: writers are serialised, and the caller holds the write lock."""
    table = PersonHistory._meta.db_table
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            # "= ANY" and the two-column order: only the (municipality, id) index gives that order, so the plan
            # reads it backwards (one row). With "= %s" PostgreSQL drops the constant column from the order and may
            # walk the primary key backwards through other municipalities' newer rows (measured 0.6 s at 1M rows).
            c.execute(f"SELECT (SELECT id FROM {table} WHERE municipality_id = ANY(ARRAY[%s]) "
                      "ORDER BY municipality_id DESC, id DESC LIMIT 1), "
                      "pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
                      "pg_snapshot_xmax(pg_current_snapshot())::text::bigint", [m.pk])
        else:
            c.execute(f"SELECT (SELECT max(id) FROM {table} WHERE municipality_id = %s), 0, 0", [m.pk])
        top, xmin, xmax = c.fetchone()
    return top or 0, xmin, xmax


def sequence_new_rows(batch: int = SEQUENCE_BATCH) -> bool:
    """Give feed positions to committed history rows that have none, in id order. Returns True if rows remain
    unsequenced (more than `batch` were waiting).

    Only rows above the head's `scanned_id` are looked at, so a call costs what is new, not the whole history
    (measured before: 0.4–0.6 s per call at 1,000,000 history rows on SQLite). `scanned_id` moves up only to an id
    below which no row can still appear:
    - SQLite: writers are serialised and this runs holding the write lock, so every row that exists is committed,
      and later rows get larger ids (AUTOINCREMENT; the bulk loaders reserve MAX(id)+1 inside their transaction).
    - PostgreSQL: a row with a smaller id can commit later. Ids come from a sequence, so rows allocated after a
      snapshot have larger ids than any visible then; a smaller invisible one belongs to a transaction running at
      that snapshot (xid < its xmax). The highest id seen is kept as a candidate with that xmax, and becomes
      `scanned_id` on a later call once the oldest running transaction (xmin) is past the candidate's xmax — by
      then those rows, if committed, are visible to this call's scan, which runs before the watermark moves.
      This needs every writer of history rows to have its transaction id before it draws a history id: the
      actions write the Person row first (residents.actions._save), and the bulk loaders lock the history table
      (demo.bulk.BulkTables.reserve_ids) before drawing ids, so no other history insert can interleave. A new
      writer must keep one of these two properties."""
    m = require_municipality()
    head = FeedHead.objects.filter(municipality=m).first()
    if head is not None and head.scanned_id >= _horizon(m)[0]:
        return False  # the common case: nothing above the watermark, no lock taken, no scan
    with transaction.atomic():
        FeedHead.objects.get_or_create(municipality=m)
        head = FeedHead.objects.select_for_update().get(municipality=m)
        top, xmin, xmax = _horizon(m)
        # read after the lock is held: (READ COMMITTED) this statement sees the positions given by whoever held the
        # lock before us, so no row is sequenced twice (the unique history_id is a second guard)
        ids = _unsequenced_ids(m, head.scanned_id, batch + 1)
        more = len(ids) > batch
        ids = ids[:batch]
        if ids:
            FeedEntry.objects.bulk_create(
                [FeedEntry(municipality=m, seq=head.last_seq + i, history_id=h) for i, h in enumerate(ids, 1)],
                batch_size=1000)
        scanned, cand_id, cand_xmax = head.scanned_id, head.candidate_id, head.candidate_xmax
        if connection.vendor != "postgresql":
            # every row up to the last one numbered now is numbered (a full batch), or every row up to the top
            scanned = max(scanned, ids[-1] if more else top)
        elif not more:
            if cand_id > scanned and xmin >= cand_xmax:
                scanned = cand_id
            if cand_id <= scanned:  # a pending candidate is kept until promoted, so that steady traffic
                cand_id, cand_xmax = top, xmax  # cannot keep replacing it and stall the watermark
        FeedHead.objects.filter(pk=head.pk).update(last_seq=head.last_seq + len(ids), scanned_id=scanned,
                                                   candidate_id=cand_id, candidate_xmax=cand_xmax)
    return more


def change_of(kind: str) -> dict:
    try:
        label = ChangeKind(kind).label
    except ValueError:
        label = kind
    return {"code": kind, "label": label, "group": CHANGE_GROUP.get(kind, "")}


def item_of(entry: FeedEntry, reader: policy.Reader, protected: set) -> dict:
    """One feed item: the snapshot as the read policy lets this client see it (`protected`: the pks of persons
    protected now, policy.protected_person_ids — an earlier snapshot's address is withheld too)."""
    h = entry.history
    snap = h.snapshot
    person, withheld = policy.redact(snap, reader, person_protected=h.person_id in protected)
    return {
        "cursor": str(entry.seq),
        "atena_no": snap.get("atena_no") or h.person.atena_no,
        "history_no": h.history_no,
        "change": change_of(h.change_kind),
        "change_date": h.change_date.isoformat(),
        "notification_date": h.notification_date.isoformat() if h.notification_date else None,
        "processed_at": h.processed_at.isoformat(),
        "address_withheld": withheld and any(f in ADDRESS_FIELDS for f in reader.fields),
        "person": person,
    }


def read_changes(client, after: int, limit: int) -> dict:
    """One page of the feed for `client` (inside its municipality's scope)."""
    m = require_municipality()
    assert client.municipality_id == m.pk
    more_unsequenced = sequence_new_rows()
    entries = list(
        FeedEntry.objects.filter(seq__gt=after, history__municipality_id=m.pk)
        .select_related("history", "history__person").order_by("seq")[: limit + 1])
    has_more = len(entries) > limit or more_unsequenced
    entries = entries[:limit]
    reader = policy.for_api_client(client)
    protected = policy.protected_person_ids({e.history.person_id: e.history.person for e in entries}.values())
    items = [item_of(e, reader, protected) for e in entries]
    return {
        "municipality": {"code": m.code, "code6": m.code6, "name": m.name},
        "items": items,
        "next": items[-1]["cursor"] if items else str(after),
        "has_more": has_more,
        "fields": list(reader.fields),
    }
