"""Contract exit (契約終了後の処理), the pieces the actions put together: the full archive, the check that nothing of the
municipality is left, and the signed certificate of deletion.

The archive (a ZIP under JICHITAI_EXIT_DIR) holds: the standard-layout export of the whole register with every
history snapshot and the 外字 table (interchange.export, complete: protected addresses and 個人番号 included — it is
the municipality's own data going back to it; manifest `read_policy` says so), the certificates' issuance log
(交付簿) as CSV, the municipality's settings (個別 values with their tiers), the audit chain (JSON lines, the
portable format) with its verification report, and `exit-manifest.json` with each file's SHA-256.

The certificate of deletion is canonical JSON signed with the audit checkpoints' Ed25519 key (audit/keys.py), so
anyone holding the public key can verify it; it names the archive's SHA-256, who confirmed receipt, the rows deleted
per table and the verification that no row is left."""
from __future__ import annotations

import base64
import csv
import hashlib
import json
import zipfile
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import models

from jichitai.tenancy.scope import cross_tenant, tenant_scope


def exit_dir() -> Path:
    d = Path(getattr(settings, "JICHITAI_EXIT_DIR", settings.VAR_DIR / "exits"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_archive(municipality, exit_id: int, *, actor=None) -> tuple[Path, str, dict]:
    """Write the archive; returns (path, sha256, manifest). Runs in the municipality's scope."""
    import tempfile

    from jichitai.audit.portable import export_lines
    from jichitai.audit.verify import verify_chain
    from jichitai.certificates.models import Issuance
    from jichitai.interchange.export import export_municipality
    from jichitai.privacy import policy

    from . import engine

    m = municipality
    target = exit_dir() / f"exit-{m.code}-{exit_id}.zip"
    files = {}
    with tempfile.TemporaryDirectory(prefix="jichitai-exit-") as tmp, tenant_scope(m):
        root = Path(tmp)
        reader = policy.for_export(None, include_protected_addresses=True, purpose="contract-exit", system=True)
        export_municipality(root / "layout", reader=reader, actor=actor, terminal="contract-exit", workers=1)
        log = root / "certificates_log.csv"
        with open(log, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["発行番号", "照合ID", "種類", "様式", "処理日時", "状態", "手数料", "取消日時"])
            for r in Issuance.objects.order_by("issued_at", "pk").values_list(
                    "issue_no", "public_id", "kind", "layout", "issued_at", "status", "fee", "voided_at"):
                w.writerow(["" if v is None else v for v in r])
        values = {k: {"value": r.value, "tier": r.tier, "set_by": r.set_by, "set_at": r.set_at,
                      "requirement": r.requirement} for k, r in engine.municipality_values(m).items()
                  if engine.definition(k).type != "custom" or not str(r.value).startswith("data:")}
        (root / "settings.json").write_text(canonical(values), encoding="utf-8")
        with open(root / "audit.jsonl", "w", encoding="utf-8") as f:
            for line in export_lines([m.code]):
                f.write(line)
        rep = verify_chain(m.code)
        (root / "audit_verification.json").write_text(canonical({
            "chain": rep.key, "entries": rep.entries, "ok": rep.ok, "broken_seq": rep.broken_seq,
            "reason": rep.reason, "checkpoints": rep.checkpoints, "last_checkpoint_seq": rep.last_checkpoint_seq}),
            encoding="utf-8")
        for p in sorted(root.rglob("*")):
            if p.is_file():
                files[p.relative_to(root).as_posix()] = {"sha256": _sha256(p), "bytes": p.stat().st_size}
        manifest = {"municipality": m.code, "name": m.name, "exit": exit_id, "files": files,
                    "audit_chain_ok": rep.ok, "audit_entries": rep.entries}
        (root / "exit-manifest.json").write_text(canonical(manifest), encoding="utf-8")
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    z.write(p, arcname=p.relative_to(root).as_posix())
    return target, _sha256(target), manifest


def municipality_references():
    """(model, lookup) for every model that can hold a row of a municipality: a foreign key to Municipality, a
    required foreign key to a tenant row, or a foreign key to its staff. ContractExit (the platform's record) is
    left out."""
    from jichitai.tenancy.models import Municipality, StaffUser

    from .models import ContractExit

    out = []
    for model in apps.get_models():
        if model is ContractExit or model is Municipality or model._meta.proxy:
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, models.ForeignKey):
                if f.related_model is Municipality:
                    out.append((model, f.name))
                elif f.related_model is StaffUser:
                    out.append((model, f"{f.name}__municipality"))
    from jichitai.guard.db import child_models

    for model, fk in child_models():
        out.append((model, f"{fk.name}__municipality"))
    return out


def rows_left(municipality) -> dict:
    """{model label: rows} of everything still referring to the municipality (empty when deletion is complete)."""
    left = {}
    with cross_tenant("contract exit: verify that no row of the leaving municipality is left"):
        for model, lookup in municipality_references():
            n = model._base_manager.filter(**{lookup: municipality.pk}).count()
            if n:
                left[model._meta.label] = left.get(model._meta.label, 0) + n
    return left


def sign(statement: dict) -> tuple[str, str]:
    """(base64 Ed25519 signature of the canonical JSON, key id)."""
    from jichitai.audit.keys import signing_key

    key, key_id = signing_key()
    return base64.b64encode(key.sign(canonical(statement).encode("utf-8"))).decode("ascii"), key_id


def verify_certificate(statement: dict, signature: str, key_id: str) -> bool:
    from jichitai.audit.keys import public_keys

    pub = public_keys().get(key_id)
    if pub is None:
        return False
    try:
        pub.verify(base64.b64decode(signature), canonical(statement).encode("utf-8"))
    except Exception:
        return False
    return True
