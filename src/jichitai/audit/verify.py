"""Verifying the audit chains: recompute every hash in order (version 1 SHA-256, version 2 HMAC with the keyring),
then compare the chain with every signed checkpoint written outside the database; report the first problem with its
seq, in Japanese and English.

What each check catches:
- an edited, inserted or deleted row, re-hashed or not, by someone without the HMAC key: the MAC of that row;
- the same by someone who also holds the HMAC key: the checkpointed hash at the next checkpoint differs;
- truncation with the head moved back: a checkpoint names a seq beyond the last entry;
- a chain downgraded to unkeyed version-1 hashes: a version-1 row after a version-2 row, and the checkpoint of the
  chain's first version-2 entry.
"""
from dataclasses import dataclass, field

from jichitai.tenancy.scope import cross_tenant

from . import keys
from .actions import GENESIS, canonical_json, compute_hash
from .checkpoints import read_checkpoints
from .models import HASH_V2, AuditChain, AuditEvent

SEGMENT_OPEN = "audit.segment.open"
SEGMENT_MERGE = "audit.segment.merge"


@dataclass
class ChainReport:
    key: str
    entries: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""
    checkpoints: int = 0                 # signed checkpoints that matched the chain
    last_checkpoint_seq: int | None = None
    notes: list = field(default_factory=list)

    @property
    def checkpoint_status(self) -> str:
        if self.checkpoints:
            return (f"{self.checkpoints} signed checkpoint(s) match, latest at seq {self.last_checkpoint_seq} / "
                    f"署名付きチェックポイント{self.checkpoints}件と一致（最新: 記録{self.last_checkpoint_seq}）")
        return "no checkpoint yet / チェックポイントはまだありません"

    @property
    def checkpoint_status_ja(self) -> str:
        if self.checkpoints:
            return f"署名付きチェックポイント{self.checkpoints}件と一致しました（最新: 記録番号 {self.last_checkpoint_seq}）。"
        return "署名付きチェックポイントはまだありません（`jichitai audit checkpoint` で記録されます）。"

    def __str__(self):
        if self.ok:
            return f"{self.key}: OK ({self.entries} entries) / 正常（{self.entries}件）; {self.checkpoint_status}"
        return f"{self.key}: BROKEN at seq {self.broken_seq}: {self.reason}"


def _fail(key, n, seq, reason, cps=0, last=None):
    return ChainReport(key, n, False, seq, reason, cps, last)


def _segment_base(key, first):
    """(base_seq, base_hash, problem) of a segment from its opening entry."""
    import json

    if first is None or first.action != SEGMENT_OPEN:
        return None, None, ("the segment does not begin with its opening entry / オフライン区間が開始の記録で"
                            "始まっていません")
    d = json.loads(first.detail or "{}")
    parent = key.split("~", 1)[0]
    if d.get("parent") != parent or d.get("segment") != key:
        return None, None, "the opening entry names another chain / 開始の記録が別の連鎖を指しています"
    base_seq, base_hash = d.get("base_seq"), d.get("base_hash")
    if not isinstance(base_seq, int) or first.prev_hash != base_hash:
        return None, None, "the opening entry does not chain from its base / 開始の記録が分岐元に連結していません"
    if base_seq == 0:
        ok = base_hash == GENESIS
    else:
        row = AuditEvent.all_chains.filter(chain_key=parent, seq=base_seq).values_list("entry_hash", flat=True).first()
        ok = row is None or row == base_hash  # absent: the parent chain is not in this database (checked on merge)
    if not ok:
        return None, None, (f"the base (seq {base_seq} of {parent}) differs from the main chain / 分岐元（{parent}の"
                            f"記録{base_seq}）が本体の連鎖と一致しません")
    return base_seq, base_hash, ""


@cross_tenant("audit verify: one chain, by its key")
def verify_chain(key: str, *, _check_merges=True) -> ChainReport:
    try:
        ring = keys.keyring()
    except keys.AuditKeyError as exc:
        ring, ring_error = None, str(exc)
    else:
        ring_error = ""
    qs = AuditEvent.all_chains.filter(chain_key=key).order_by("seq")
    prev = GENESIS
    if "~" in key:
        first = qs.first()
        _, base_hash, problem = _segment_base(key, first)
        if problem:
            return _fail(key, 0, 1, problem)
        prev = base_hash
    try:
        checkpoints = read_checkpoints(key)
    except OSError as exc:
        return _fail(key, 0, None, f"checkpoints unreadable: {exc} / チェックポイントを読めません")
    for cp in checkpoints:
        if not cp.signature_ok:
            return _fail(key, 0, cp.seq, f"checkpoint line {cp.line}: {cp.problem} / チェックポイント{cp.line}行目")
    wanted = {cp.seq for cp in checkpoints}
    seen = {}
    merges = []
    expected_seq = 1
    n = 0
    seen_v2 = False
    for e in qs.iterator(chunk_size=5000):
        n += 1
        if e.seq != expected_seq:
            return _fail(key, n, expected_seq,
                         f"entry {expected_seq} is missing (next found: {e.seq}) / 記録{expected_seq}が欠落しています")
        if e.prev_hash != prev:
            return _fail(key, n, e.seq, "prev_hash does not match the previous entry / 直前の記録のハッシュと一致しません")
        if e.hash_version == HASH_V2:
            seen_v2 = True
            if ring is None:
                return _fail(key, n, e.seq, f"cannot verify version-2 entries: {ring_error}")
            if ring.key(e.key_id) is None:
                return _fail(key, n, e.seq, f"HMAC key {e.key_id} is not in the keyring / HMAC鍵 {e.key_id} "
                                            "が鍵ファイルにありません（鍵の入れ替え後も古い鍵は残してください）")
        elif seen_v2:
            return _fail(key, n, e.seq, "a version-1 entry after a version-2 entry (downgraded) / バージョン2の後に"
                                        "バージョン1の記録があります（改ざん）")
        if compute_hash(prev, e, ring) != e.entry_hash:
            return _fail(key, n, e.seq,
                         "entry content does not match its hash (altered) / 記録の内容がハッシュと一致しません（改ざん）")
        if e.seq in wanted:
            seen[e.seq] = e.entry_hash
        if e.action == SEGMENT_MERGE:
            merges.append(e)
        prev = e.entry_hash
        expected_seq += 1
    head = AuditChain.objects.filter(key=key).first()
    if head is not None and (head.last_seq != n or head.last_hash != prev):
        return _fail(key, n, n + 1 if head.last_seq > n else head.last_seq,
                     "entries after the last one are missing (truncated) / 末尾の記録が削除されています")
    matched, last, good_before = 0, None, 0
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        if cp.seq > n:
            return _fail(key, n, n + 1,
                         f"a signed checkpoint names seq {cp.seq} but the chain ends at seq {n}: entries "
                         f"{n + 1}–{cp.seq} were removed and the head moved back (truncated) / 署名付きチェックポイント"
                         f"は記録{cp.seq}まで存在したことを示していますが、連鎖は記録{n}で終わっています"
                         f"（記録{n + 1}以降が削除され、先頭が戻されました）", matched, last)
        if seen.get(cp.seq) != cp.hash:
            return _fail(key, n, cp.seq,
                         f"entry {cp.seq} differs from its signed checkpoint: entries {good_before + 1}–{cp.seq} "
                         f"were rewritten and re-hashed / 記録{cp.seq}が署名付きチェックポイントと一致しません"
                         f"（記録{good_before + 1}〜{cp.seq}の間が書き換えられ、再計算されています）", matched, last)
        matched, last, good_before = matched + 1, cp.seq, cp.seq
    if _check_merges:
        for m in merges:
            problem = _check_merge(key, m)
            if problem:
                return _fail(key, n, m.seq, problem, matched, last)
    return ChainReport(key, n, True, checkpoints=matched, last_checkpoint_seq=last)


def _check_merge(key, m) -> str:
    """A merge entry on the main chain commits to a segment's base, seq range and head hash: the segment's entries
    kept in this database must be exactly those (and verify on their own)."""
    import json

    d = json.loads(m.detail or "{}")
    seg = d.get("segment", "")
    if not seg.startswith(key + "~"):
        return f"merge entry names a segment of another chain: {seg} / 別の連鎖の区間を取り込んでいます"
    base = AuditEvent.all_chains.filter(chain_key=key, seq=d.get("base_seq")).values_list("entry_hash", flat=True)
    if (d.get("base_seq") or 0) > 0 and base.first() != d.get("base_hash"):
        return (f"merged segment {seg}: its base is not seq {d.get('base_seq')} of this chain / 取り込んだ区間 {seg} "
                f"の分岐元が一致しません")
    r = verify_chain(seg, _check_merges=False)
    if not r.ok:
        return f"merged segment {seg} is broken at its seq {r.broken_seq}: {r.reason} / 取り込んだ区間 {seg} が破損"
    head = AuditEvent.all_chains.filter(chain_key=seg).order_by("-seq").values_list("seq", "entry_hash").first()
    if head is None or [d.get("first_seq"), d.get("last_seq"), d.get("head_hash")] != [1, head[0], head[1]]:
        return (f"merged segment {seg} differs from what the merge entry committed to (seq 1–{d.get('last_seq')}, "
                f"head {str(d.get('head_hash'))[:12]}…) / 取り込んだ区間 {seg} が取り込みの記録と一致しません")
    return ""


def verify_all(keys_=None) -> list[ChainReport]:
    """Every chain (the `audit verify` command: system code, across municipalities)."""
    with cross_tenant("audit verify: every municipality's chain"):
        if keys_ is None:
            keys_ = sorted(set(AuditChain.objects.values_list("key", flat=True))
                           | set(AuditEvent.all_chains.values_list("chain_key", flat=True).distinct()))
        return [verify_chain(k) for k in keys_]


__all__ = ["ChainReport", "canonical_json", "verify_all", "verify_chain"]
