"""Chains that leave their database and come back: export and restore (backup, another database), and offline
segments of one municipality merged back into its main chain.

Export format: JSON lines, one per entry, natural keys only (`chain`, `seq`, `at`, `actor`, `role`, `action`,
`object_type`, `object_id`, `terminal`, `detail`, `prev_hash`, `entry_hash`, `hash_version`, `key_id`, and the
municipality's code). A restore maps the code to the target database's municipality and the actor's username to its
staff id (or none); version-2 entries verify there because their MAC covers no database id.

Offline segments (docs/architecture.md, "Audit"): an offline copy of municipality C opens a segment `C~<id>` whose
first entry (`audit.segment.open`) chains from the main chain's head at the time of the copy and names it
(base seq and hash) and the device. While the copy runs with JICHITAI_AUDIT_SEGMENT=C~<id>, its entries for C go to
the segment. Back online, the segment's export is merged: its entries are kept as they are (their own chain) and one
`audit.segment.merge` entry on C's main chain commits to the segment, its base, its seq range and its head hash.
"""
import datetime as dt
import json
import secrets

from django.db import connection, transaction

from jichitai.tenancy.scope import cross_tenant

from . import keys
from .actions import GENESIS, append, canonical_json
from .models import AuditChain, AuditEvent

SEGMENT_OPEN = "audit.segment.open"
SEGMENT_MERGE = "audit.segment.merge"


class PortableError(Exception):
    """A file cannot be restored or merged; bilingual message, nothing written."""


def entry_to_dict(e) -> dict:
    return {"chain": e.chain_key, "seq": e.seq, "municipality": e.municipality.code if e.municipality_id else None,
            "at": e.occurred_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
            "actor": e.actor_username, "role": e.actor_role, "action": e.action, "object_type": e.object_type,
            "object_id": e.object_id, "terminal": e.terminal, "detail": e.detail, "prev_hash": e.prev_hash,
            "entry_hash": e.entry_hash, "hash_version": e.hash_version, "key_id": e.key_id}


@cross_tenant("audit chains moved whole: export lines")
def export_lines(chain_keys=None):
    qs = AuditEvent.all_chains.select_related("municipality").order_by("chain_key", "seq")
    if chain_keys:
        qs = qs.filter(chain_key__in=chain_keys)
    for e in qs.iterator(chunk_size=5000):
        yield canonical_json(entry_to_dict(e)) + "\n"


def _parse(lines) -> dict:
    chains = {}
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            d = json.loads(text)
            chains.setdefault(d["chain"], []).append(d)
            int(d["seq"])
        except (ValueError, KeyError, TypeError):
            raise PortableError(f"{n}行目を読み取れません / line {n} is not an audit entry") from None
    for key, rows in chains.items():
        rows.sort(key=lambda d: d["seq"])
    return chains


def _event(d, municipalities, users) -> AuditEvent:
    from jichitai.tenancy.models import Municipality, StaffUser

    code = d.get("municipality")
    if code and code not in municipalities:
        m = Municipality.objects.filter(code=code).first()
        if m is None:
            raise PortableError(f"自治体 {code} がこのデータベースにありません / municipality {code} is not in this "
                                "database (create it first)")
        municipalities[code] = m
    if d["actor"] not in users:
        users[d["actor"]] = StaffUser.objects.filter(username=d["actor"]).values_list("pk", flat=True).first()
    return AuditEvent(chain_key=d["chain"], seq=d["seq"], municipality=municipalities.get(code) if code else None,
                      occurred_at=dt.datetime.fromisoformat(d["at"]), actor_id=users[d["actor"]],
                      actor_username=d["actor"], actor_role=d["role"], action=d["action"],
                      object_type=d["object_type"], object_id=d["object_id"], terminal=d["terminal"],
                      detail=d["detail"], prev_hash=d["prev_hash"], entry_hash=d["entry_hash"],
                      hash_version=d.get("hash_version"), key_id=d.get("key_id"))


def _load_chain(key, rows, municipalities, users) -> tuple[int, int]:
    """Insert one chain's rows (those already present must be identical); move its head. (inserted, kept)."""
    present = {e.seq: entry_to_dict(e) for e in
               AuditEvent.all_chains.filter(chain_key=key).select_related("municipality")}
    new = []
    for d in rows:
        if d["seq"] in present:
            if present[d["seq"]] != d:
                raise PortableError(f"{key} の記録{d['seq']}は既に別の内容で存在します / {key} seq {d['seq']} "
                                    "already exists with other content")
            continue
        new.append(_event(d, municipalities, users))
    if new and present and min(e.seq for e in new) <= max(present):
        raise PortableError(f"{key}: 既存の記録の間には追加できません / {key}: cannot insert between existing entries")
    AuditEvent.all_chains.bulk_create(new, batch_size=2000)
    last = rows[-1]
    head, _ = AuditChain.objects.get_or_create(key=key)
    if last["seq"] > head.last_seq:
        AuditChain.objects.filter(pk=head.pk).update(last_seq=last["seq"], last_hash=last["entry_hash"],
                                                     hash_version=last.get("hash_version"))
    return len(new), len(rows) - len(new)


@cross_tenant("audit chains moved whole: restore")
def restore(lines) -> dict:
    """Load exported chains into this database (one transaction): {chain: (inserted, already present)}."""
    chains = _parse(lines)
    municipalities, users = {}, {}
    with transaction.atomic():
        return {key: _load_chain(key, rows, municipalities, users) for key, rows in sorted(chains.items())}


# ---------------------------------------------------------------- offline segments

@cross_tenant("audit chains moved whole: open segment")
def open_segment(municipality, device: str, *, actor=None) -> str:
    """On the offline copy: fork a segment from the main chain's head; returns its chain key."""
    device = (device or "").strip()[:64]
    if not device:
        raise PortableError("端末（機器）IDを指定してください / a device id is required")
    keys.keyring()
    parent = municipality.code
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"SELECT last_seq, last_hash FROM {AuditChain._meta.db_table} WHERE key = %s{lock}", [parent])
            row = cur.fetchone() or (0, GENESIS)
        key = f"{parent}~{secrets.token_hex(4)}"
        # hash_version left empty: the opening entry is the segment's first version-2 entry, so it is checkpointed
        AuditChain.objects.create(key=key, last_seq=0, last_hash=row[1])
        append(municipality, SEGMENT_OPEN, actor=actor, terminal=device, object_type="audit_segment", object_id=key,
               detail={"parent": parent, "segment": key, "base_seq": row[0], "base_hash": row[1], "device": device},
               chain=key)
    return key


@cross_tenant("audit chains moved whole: merge segment")
def merge_segment(lines, *, actor=None, terminal="system") -> AuditEvent:
    """On the main database: keep the segment's entries (verified) and commit to them with one merge entry."""
    from jichitai.tenancy.models import Municipality

    from .verify import verify_chain

    chains = _parse(lines)
    if len(chains) != 1 or "~" not in next(iter(chains)):
        raise PortableError("ファイルには1つのオフライン区間だけを含めてください / the file must hold exactly one segment")
    key, rows = next(iter(chains.items()))
    parent = key.split("~", 1)[0]
    m = Municipality.objects.filter(code=parent).first()
    if m is None:
        raise PortableError(f"自治体 {parent} がありません / no municipality {parent}")
    if [d["seq"] for d in rows] != list(range(1, len(rows) + 1)) or rows[0]["action"] != SEGMENT_OPEN:
        raise PortableError(f"{key}: 区間の記録が1から連続していません / the segment's entries are not 1..n")
    opening = json.loads(rows[0]["detail"])
    if AuditEvent.all_chains.filter(chain_key=parent, action=SEGMENT_MERGE, object_id=key).exists():
        raise PortableError(f"{key} は既に取り込まれています / segment {key} was already merged")
    with transaction.atomic():
        _load_chain(key, rows, {}, {})
        report = verify_chain(key, _check_merges=False)
        if not report.ok:
            raise PortableError(f"区間 {key} の検証に失敗しました（記録{report.broken_seq}）: {report.reason} / the "
                                f"segment does not verify at seq {report.broken_seq}")
        base_seq, base_hash = opening["base_seq"], opening["base_hash"]
        if base_seq:
            have = AuditEvent.all_chains.filter(chain_key=parent, seq=base_seq).values_list("entry_hash", flat=True)
            if have.first() != base_hash:
                raise PortableError(f"区間 {key} の分岐元（記録{base_seq}）が本体の連鎖と一致しません / the segment's "
                                    f"base (seq {base_seq}) is not on the main chain")
        return append(m, SEGMENT_MERGE, actor=actor, terminal=terminal, object_type="audit_segment", object_id=key,
                      detail={"segment": key, "device": opening.get("device"), "base_seq": base_seq,
                              "base_hash": base_hash, "first_seq": 1, "last_seq": rows[-1]["seq"],
                              "head_hash": rows[-1]["entry_hash"], "entries": len(rows)}, chain=parent)
