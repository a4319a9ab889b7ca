"""Every write of the continuity app: one function, one transaction, one audit event (platform chain: backups are
operations of the platform, also when they cover one municipality)."""
import datetime as dt
import hashlib
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import append

from .models import BackupRecord, FailoverDrill


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@transaction.atomic
def record_backup(path: Path, manifest: dict, *, terminal="command") -> BackupRecord:
    path = Path(path)
    r = BackupRecord.objects.create(
        file_name=path.name, path=str(path.resolve()), scope_code=manifest["scope"], engine=manifest["engine"],
        created_at=dt.datetime.fromisoformat(manifest["created_at"]), size_bytes=path.stat().st_size,
        file_sha256=_sha256(path), key_id=manifest.get("key_id", ""), tables=len(manifest["tables"]),
        rows=sum(t["rows"] for t in manifest["tables"].values()), chains=len(manifest.get("chains", [])),
        residents_by_code=manifest.get("residents_by_code", {}), seconds=manifest.get("seconds", 0))
    append(None, "continuity.backup", terminal=terminal, object_type="backup", object_id=r.pk,
           detail={"file": r.file_name, "scope": r.scope_code or "full", "tables": r.tables, "rows": r.rows,
                   "sha256": r.file_sha256})
    return r


@transaction.atomic
def record_verification(path: Path, report: dict, *, terminal="command") -> BackupRecord | None:
    """Write the result of `backup verify` on the record of that file (found by its SHA-256: a renamed copy is
    the same backup)."""
    digest = _sha256(Path(path))
    r = BackupRecord.objects.select_for_update().filter(file_sha256=digest).order_by("-id").first()
    if r is not None:
        r.verified_at = timezone.now()
        r.verify_ok = bool(report.get("ok"))
        r.verify_detail = (report.get("error") or report.get("summary") or "")[:4000]
        r.verify_seconds = report.get("seconds", 0)
        if report.get("ok"):
            r.chains = report.get("chains", r.chains)
        r.save(update_fields=["verified_at", "verify_ok", "verify_detail", "verify_seconds", "chains"])
    append(None, "continuity.verify", terminal=terminal, object_type="backup", object_id=r.pk if r else digest[:16],
           detail={"file": Path(path).name, "ok": bool(report.get("ok")), "error": report.get("error", "")[:500],
                   "tables": report.get("tables"), "rows": report.get("rows"), "chains": report.get("chains")})
    return r


@transaction.atomic
def record_refused(path: Path, message: str, *, terminal="command"):
    """A file refused before any restore (tampered, truncated, wrong key): marked failed if it is known."""
    p = Path(path)
    r = None
    if p.is_file():
        r = BackupRecord.objects.select_for_update().filter(file_sha256=_sha256(p)).first()
    if r is None:
        r = BackupRecord.objects.select_for_update().filter(path=str(p.resolve())).order_by("-id").first()
    if r is not None:
        r.verified_at, r.verify_ok, r.verify_detail = timezone.now(), False, message[:4000]
        r.save(update_fields=["verified_at", "verify_ok", "verify_detail"])
    append(None, "continuity.verify", terminal=terminal, object_type="backup", object_id=r.pk if r else "",
           detail={"file": p.name, "ok": False, "error": message[:500]})


@transaction.atomic
def record_restore(path: Path, report: dict, *, terminal="command"):
    append(None, "continuity.restore", terminal=terminal, object_type="backup", object_id=Path(path).name,
           detail={k: report.get(k) for k in ("ok", "scope", "tables", "rows", "chains", "error")})


@transaction.atomic
def prune(records, *, delete_files=True, terminal="command") -> list:
    """Remove the files of `records` (chosen by service.to_prune) and mark them pruned."""
    done = []
    for r in records:
        p = Path(r.path)
        if delete_files and p.exists():
            p.unlink()
        r.pruned_at = timezone.now()
        r.save(update_fields=["pruned_at"])
        done.append(r.file_name)
    append(None, "continuity.prune", terminal=terminal, object_type="backup", object_id=len(done),
           detail={"files": done[:200]})
    return done


@transaction.atomic
def record_drill(result: dict, *, started_at=None, terminal="command") -> FailoverDrill:
    d = FailoverDrill.objects.create(
        started_at=started_at or timezone.now(), old_primary=result["old_primary"] or "",
        new_primary=result["new_primary"] or "", rto_seconds=result["rto_seconds"], rpo_events=result["rpo_events"],
        committed=result["committed"], chain_ok=result["chain_ok"],
        detail={k: result[k] for k in ("present", "unconfirmed_but_kept", "drill_seconds", "writes_before_kill",
                                       "writes_after_recovery") if k in result})
    append(None, "continuity.failover_drill", terminal=terminal, object_type="drill", object_id=d.pk,
           detail={"rto_seconds": d.rto_seconds, "rpo_events": d.rpo_events, "chain_ok": d.chain_ok})
    return d
