"""Signed checkpoints of the chain heads, written outside the database.

One append-only JSON-lines file per chain (`JICHITAI_AUDIT_CHECKPOINT_DIR/<chain>.jsonl`); each line is
`{"chain", "seq", "hash", "at", "key_id", "sig"}`, `sig` being the Ed25519 signature (base64) of the canonical JSON of
the other fields. Verifying needs only the public key. A checkpoint is written every JICHITAI_AUDIT_CHECKPOINT_EVERY
entries and at a chain's first version-2 entry (after the transaction commits), and for every head by
`jichitai audit checkpoint` (run it periodically, e.g. from cron, and ship the files to storage the database's
administrators cannot rewrite).
"""
import base64
import fcntl
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import keys

log = logging.getLogger(__name__)
SIGNED_FIELDS = ("chain", "seq", "hash", "at", "key_id")


def _canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def checkpoint_dir() -> Path:
    return Path(settings.JICHITAI_AUDIT_CHECKPOINT_DIR)


def checkpoint_path(chain_key: str) -> Path:
    return checkpoint_dir() / f"{chain_key}.jsonl"


def signed_bytes(cp: dict) -> bytes:
    return _canonical({k: cp.get(k) for k in SIGNED_FIELDS}).encode("utf-8")


def write_checkpoint(chain_key: str, seq: int, entry_hash: str) -> dict:
    sk, kid = keys.signing_key()
    cp = {"chain": chain_key, "seq": seq, "hash": entry_hash,
          "at": timezone.now().astimezone(timezone.get_fixed_timezone(0)).isoformat(timespec="seconds"),
          "key_id": kid}
    cp["sig"] = base64.b64encode(sk.sign(signed_bytes(cp))).decode("ascii")
    path = checkpoint_path(chain_key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (_canonical(cp) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return cp


def write_after_commit(chain_key: str, seq: int, entry_hash: str):
    """Checkpoint an entry once its transaction has committed (a rolled-back entry is never checkpointed). A failure
    is logged, never raised: the entry is already committed, and the next `audit checkpoint` covers the head."""
    def run():
        try:
            write_checkpoint(chain_key, seq, entry_hash)
        except Exception:  # noqa: BLE001
            log.exception("audit checkpoint of %s at seq %s could not be written", chain_key, seq)

    transaction.on_commit(run)


@dataclass
class Checkpoint:
    line: int
    chain: str
    seq: int | None
    hash: str
    key_id: str
    signature_ok: bool
    problem: str = ""


def read_checkpoints(chain_key: str, public_keys=None) -> list[Checkpoint]:
    path = checkpoint_path(chain_key)
    if not path.exists():
        return []
    if public_keys is None:
        public_keys = keys.public_keys()
    out = []
    with open(path, encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                cp = json.loads(text)
                seq = int(cp["seq"])
            except (ValueError, KeyError, TypeError):
                out.append(Checkpoint(n, chain_key, None, "", "", False, "unreadable line / 読み取れない行"))
                continue
            pk = public_keys.get(cp.get("key_id"))
            ok, problem = False, ""
            if pk is None:
                problem = (f"no public key {cp.get('key_id')} to check its signature / 署名を確認する公開鍵"
                           f" {cp.get('key_id')} がありません")
            else:
                try:
                    pk.verify(base64.b64decode(cp.get("sig", "")), signed_bytes(cp))
                    ok = True
                except Exception:  # noqa: BLE001  (InvalidSignature, bad base64)
                    problem = "signature invalid / 署名が正しくありません"
            if ok and cp.get("chain") != chain_key:
                ok, problem = False, f"names another chain {cp.get('chain')} / 別の連鎖の記録です"
            out.append(Checkpoint(n, chain_key, seq, str(cp.get("hash", "")), str(cp.get("key_id", "")), ok, problem))
    return out


def set_aside_checkpoints(chain_key: str):
    """A purged municipality's chain (guard.purge: demo reset, later contract exit): the checkpoint file is renamed,
    never deleted."""
    path = checkpoint_path(chain_key)
    if path.exists():
        path.rename(path.with_name(f"{path.name}.reset-{timezone.now():%Y%m%dT%H%M%S%f}"))


def last_checkpointed_seq(chain_key: str) -> int:
    return max((c.seq for c in read_checkpoints(chain_key, public_keys={}) if c.seq is not None), default=0)


def checkpoint_heads(keys_=None, verify=None) -> list[tuple[str, int, bool]]:
    """Write a checkpoint of every chain head that moved since its last checkpoint: [(chain, seq, written)].
    With `verify`, a chain that does not verify is never signed (raises ValueError with the report)."""
    from .models import AuditChain

    qs = AuditChain.objects.order_by("key")
    if keys_:
        qs = qs.filter(key__in=keys_)
    out = []
    for head in qs:
        if head.last_seq == 0:
            continue
        if last_checkpointed_seq(head.key) >= head.last_seq:
            out.append((head.key, head.last_seq, False))
            continue
        if verify is not None:
            report = verify(head.key)
            if not report.ok:
                raise ValueError(f"not signing a broken chain / 破損した連鎖には署名しません: {report}")
        write_checkpoint(head.key, head.last_seq, head.last_hash)
        out.append((head.key, head.last_seq, True))
    return out
