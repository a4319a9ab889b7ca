"""Reading the change feed: sequencing newly committed history rows, then serving a page after a cursor.

Every query here goes through the scoped managers: the caller must be inside `tenant_scope(client.municipality)`.

Why a separate sequence (FeedEntry.seq) and not PersonHistory.id as the cursor: ids are handed out at INSERT, but
rows become visible at COMMIT. A transaction T1 that inserted id 10 and commits after T2 (id 11) would be missed by
a subscriber that already read "after 11". Here a row gets its position only once it is visible (committed), under
a per-municipality lock, and always after every position already given — so a row committed later can never get a
smaller cursor than one already served. Positions are never reused or changed (FeedEntry is append-only).
"""
from django.db import transaction

from jichitai.residents.models import CHANGE_GROUP, ChangeKind, PersonHistory
from jichitai.residents.queries import ADDRESS_FIELDS
from jichitai.tenancy.scope import require_municipality

from .models import FeedEntry, FeedHead
from .scopes import allowed_fields, sees_dv_addresses

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SEQUENCE_BATCH = 10000  # most history rows given a position per call (the rest on the next call; has_more says so)


def _unsequenced():
    return PersonHistory.objects.filter(feed_entry__isnull=True)


def sequence_new_rows(batch: int = SEQUENCE_BATCH) -> bool:
    """Give feed positions to committed history rows that have none, in id order. Returns True if rows remain
    unsequenced (more than `batch` were waiting)."""
    m = require_municipality()
    if not _unsequenced().exists():  # the common case: nothing new, no lock taken
        return False
    with transaction.atomic():
        FeedHead.objects.get_or_create(municipality=m)
        head = FeedHead.objects.select_for_update().get(municipality=m)
        # read after the lock is held: (READ COMMITTED) this statement sees the positions given by whoever held the
        # lock before us, so no row is sequenced twice (the unique history_id is a second guard)
        ids = list(_unsequenced().order_by("id").values_list("id", flat=True)[: batch + 1])
        more = len(ids) > batch
        ids = ids[:batch]
        if ids:
            FeedEntry.objects.bulk_create(
                [FeedEntry(municipality=m, seq=head.last_seq + i, history_id=h) for i, h in enumerate(ids, 1)],
                batch_size=1000)
            FeedHead.objects.filter(pk=head.pk).update(last_seq=head.last_seq + len(ids))
    return more


def change_of(kind: str) -> dict:
    try:
        label = ChangeKind(kind).label
    except ValueError:
        label = kind
    return {"code": kind, "label": label, "group": CHANGE_GROUP.get(kind, "")}


def item_of(entry: FeedEntry, fields: list[str], dv_ok: bool) -> dict:
    h = entry.history
    snap = h.snapshot
    # withheld if the snapshot OR the person's current record is protected: a protection added after a move must
    # also hide the address recorded by that earlier move
    protected = bool(snap.get("dv_protected")) or bool(h.person.dv_protected)
    withheld = protected and not dv_ok
    person = {}
    for f in fields:
        person[f] = None if (withheld and f in ADDRESS_FIELDS) else snap.get(f)
    return {
        "cursor": str(entry.seq),
        "atena_no": snap.get("atena_no") or h.person.atena_no,
        "history_no": h.history_no,
        "change": change_of(h.change_kind),
        "change_date": h.change_date.isoformat(),
        "notification_date": h.notification_date.isoformat() if h.notification_date else None,
        "processed_at": h.processed_at.isoformat(),
        "address_withheld": withheld and any(f in ADDRESS_FIELDS for f in fields),
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
    fields = allowed_fields(client.scopes)
    dv_ok = sees_dv_addresses(client.scopes)
    items = [item_of(e, fields, dv_ok) for e in entries]
    return {
        "municipality": {"code": m.code, "code6": m.code6, "name": m.name},
        "items": items,
        "next": items[-1]["cursor"] if items else str(after),
        "has_more": has_more,
        "fields": fields,
    }
