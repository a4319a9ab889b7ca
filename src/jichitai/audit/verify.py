"""Verifying the audit chains: recompute every hash in order and report the first broken link."""
from dataclasses import dataclass

from jichitai.tenancy.scope import cross_tenant

from .actions import compute_hash
from .models import AuditChain, AuditEvent


@dataclass
class ChainReport:
    key: str
    entries: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""

    def __str__(self):
        if self.ok:
            return f"{self.key}: OK ({self.entries} entries) / 正常（{self.entries}件）"
        return f"{self.key}: BROKEN at seq {self.broken_seq}: {self.reason}"


def verify_chain(key: str) -> ChainReport:
    prev = "0" * 64
    expected_seq = 1
    n = 0
    qs = AuditEvent.all_chains.filter(chain_key=key).order_by("seq")
    for e in qs.iterator(chunk_size=5000):
        n += 1
        if e.seq != expected_seq:
            return ChainReport(key, n, False, expected_seq,
                               f"entry {expected_seq} is missing (next found: {e.seq}) / 記録{expected_seq}が欠落しています")
        if e.prev_hash != prev:
            return ChainReport(key, n, False, e.seq,
                               "prev_hash does not match the previous entry / 直前の記録のハッシュと一致しません")
        if compute_hash(prev, e) != e.entry_hash:
            return ChainReport(key, n, False, e.seq,
                               "entry content does not match its hash (altered) / 記録の内容がハッシュと一致しません（改ざん）")
        prev = e.entry_hash
        expected_seq += 1
    head = AuditChain.objects.filter(key=key).first()
    if head is not None and (head.last_seq != n or head.last_hash != prev):
        return ChainReport(key, n, False, n + 1 if head.last_seq > n else head.last_seq,
                           "entries after the last one are missing (truncated) / 末尾の記録が削除されています")
    return ChainReport(key, n, True)


def verify_all(keys=None) -> list[ChainReport]:
    """Every chain (the `audit verify` command: system code, across municipalities)."""
    with cross_tenant("audit verify: every municipality's chain"):
        if keys is None:
            keys = sorted(set(AuditChain.objects.values_list("key", flat=True))
                          | set(AuditEvent.all_chains.values_list("chain_key", flat=True).distinct()))
        return [verify_chain(k) for k in keys]
