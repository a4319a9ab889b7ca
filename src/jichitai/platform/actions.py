"""Every write of the platform app (except setting values, which are the engine's): one function, one transaction,
one audit event, Japanese messages."""
from __future__ import annotations

import csv
import io
import json
import re

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import append
from jichitai.tenancy.roles import Perm, Role, has_perm
from jichitai.tenancy.scope import tenant_scope

from . import engine
from .models import BusinessArea, Classification, Requirement


class PlatformError(Exception):
    """A refused platform action. `errors` maps a field (or "__all__") to Japanese messages; `lines` (CSV) maps a
    line number to its messages."""

    def __init__(self, errors, lines=None):
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = {k: (v if isinstance(v, list) else [v]) for k, v in errors.items()}
        self.lines = lines or {}
        msgs = [m for v in self.errors.values() for m in v] + [f"{n}行目: {m}" for n, ms in self.lines.items()
                                                                for m in ms]
        super().__init__("; ".join(msgs))


def _is_operator(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and has_perm(user, Perm.MANAGE_TENANTS))


def _require_admin_of(user, municipality):
    if not (user and user.is_authenticated and user.is_active and user.role == Role.ADMIN
            and user.municipality_id == municipality.pk):
        raise PermissionDenied("この団体の管理者だけが行えます。")


def _require_operator(user):
    if not _is_operator(user):
        raise PermissionDenied("プラットフォーム運用者だけが行えます。")


# ------------------------------------------------------------------------------------------- requirements

AREA_BY_LABEL = {label: code for code, label in BusinessArea.choices}
MAX_TEXT = 1000
MAX_ROWS = 20_000


def _area(raw) -> str | None:
    raw = (raw or "").strip()
    if raw in BusinessArea.values:
        return raw
    return AREA_BY_LABEL.get(raw)


def _next_codes(municipality, n):
    """The next n requirement numbers R-<code>-<serial> of the municipality (inside the caller's transaction)."""
    prefix = f"R-{municipality.code}-"
    last = 0
    for code in Requirement.objects.filter(code__startswith=prefix).values_list("code", flat=True):
        tail = code[len(prefix):]
        if tail.isdigit():
            last = max(last, int(tail))
    return [f"{prefix}{last + i:05d}" for i in range(1, n + 1)]


def _check_row(area_raw, text, code, seen, existing) -> list[str]:
    errors = []
    if _area(area_raw) is None:
        errors.append(f"業務「{area_raw}」は使えません（{'・'.join(AREA_BY_LABEL)}）。")
    text = (text or "").strip()
    if not text:
        errors.append("要求事項が空です。")
    elif len(text) > MAX_TEXT:
        errors.append(f"要求事項は{MAX_TEXT}文字以内にしてください（{len(text)}文字）。")
    if code:
        if not re.fullmatch(r"[A-Za-z0-9\-_]{1,40}", code):
            errors.append("要求番号は英数字・ハイフン・下線の40文字以内です。")
        elif code in seen or code in existing:
            errors.append(f"要求番号 {code} が重複しています。")
    return errors


def submit_requirement(user, municipality, *, area, text, terminal="system") -> Requirement:
    """One requirement entered on the screen by the municipality's admin."""
    _require_admin_of(user, municipality)
    with tenant_scope(municipality), transaction.atomic():
        errors = _check_row(area, text, "", set(), set())
        if errors:
            raise PlatformError({"__all__": errors})
        code = _next_codes(municipality, 1)[0]
        r = Requirement.objects.create(code=code, area=_area(area), text=text.strip(), submitted_by=user.username,
                                       submitted_at=timezone.now())
        append(municipality, "requirement.submitted", actor=user, terminal=terminal, object_type="requirement",
               object_id=code, detail={"area": r.area})
    return r


def import_requirements_csv(user, municipality, data: bytes | str, *, terminal="system") -> int:
    """A CSV upload (UTF-8 or Shift_JIS; header 業務,要求事項[,要求番号]). All rows or none: any bad row refuses the
    whole file with every bad line's number. Returns the number of requirements added."""
    _require_admin_of(user, municipality)
    if isinstance(data, bytes):
        for enc in ("utf-8-sig", "cp932"):
            try:
                data = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise PlatformError("文字コードを判別できません（UTF-8 または Shift_JIS で保存してください）。")
    reader = csv.reader(io.StringIO(data))
    header = next(reader, None)
    if not header:
        raise PlatformError("ファイルが空です。")
    header = [h.strip() for h in header]
    if "業務" not in header or "要求事項" not in header:
        raise PlatformError("1行目（見出し）に「業務」と「要求事項」の列が必要です。")
    i_area, i_text = header.index("業務"), header.index("要求事項")
    i_code = header.index("要求番号") if "要求番号" in header else None
    rows, lines, seen = [], {}, set()
    with tenant_scope(municipality), transaction.atomic():
        existing = set(Requirement.objects.values_list("code", flat=True))
        for n, rec in enumerate(reader, start=2):
            if not any(c.strip() for c in rec):
                continue
            if len(rows) >= MAX_ROWS:
                raise PlatformError(f"一度に取り込めるのは{MAX_ROWS:,}件までです。")
            get = (lambda i: rec[i].strip() if i is not None and i < len(rec) else "")
            area, text, code = get(i_area), get(i_text), get(i_code)
            errors = _check_row(area, text, code, seen, existing)
            if len(rec) > len(header):
                errors.append(f"列が多すぎます（{len(rec)}列、見出しは{len(header)}列）。")
            if errors:
                lines[n] = errors
                continue
            if code:
                seen.add(code)
            rows.append((code, _area(area), text))
        if lines:
            raise PlatformError({"__all__": [f"{len(lines)}行に誤りがあるため、取り込みませんでした。"]}, lines)
        if not rows:
            raise PlatformError("取り込む行がありません。")
        auto = iter(_next_codes(municipality, sum(1 for c, _, _ in rows if not c)))
        now = timezone.now()
        Requirement.objects.bulk_create([
            Requirement(municipality=municipality, code=code or next(auto), area=area, text=text,
                        submitted_by=user.username, submitted_at=now) for code, area, text in rows],
            batch_size=1000)
        append(municipality, "requirement.imported", actor=user, terminal=terminal, object_type="requirement",
               object_id="", detail={"rows": len(rows)})
    return len(rows)


def may_classify(user, municipality) -> bool:
    """The working group: the operator, or the prefecture's coordinator (the 県版 setting)."""
    if _is_operator(user):
        return True
    coordinator = engine.effective("platform.prefecture_coordinator", municipality)
    return bool(coordinator and user.is_authenticated and user.username == coordinator
                and user.role == Role.ADMIN and user.municipality is not None
                and user.municipality.prefecture_id == municipality.prefecture_id)


def classify_requirement(user, municipality, requirement_id, *, classification, setting_keys=(), note="",
                         terminal="system") -> Requirement:
    """The working group's verdict, with the settings that satisfy the requirement."""
    if not may_classify(user, municipality):
        raise PermissionDenied("分類できるのは作業部会（運用者・県の調整担当）です。")
    if classification not in Classification.values or classification == "":
        raise PlatformError({"classification": ["分類を選んでください（標準・標準追加・県版・個別・対象外）。"]})
    keys = sorted({k.strip() for k in setting_keys if k and k.strip()})
    unknown = [k for k in keys if k not in engine.registry()]
    if unknown:
        raise PlatformError({"setting_keys": [f"登録されていない設定項目です: {'、'.join(unknown)}"]})
    if classification == Classification.OUT_OF_SCOPE and keys:
        raise PlatformError({"setting_keys": ["対象外の要求事項には設定を結び付けません。"]})
    with tenant_scope(municipality), transaction.atomic():
        r = Requirement.objects.select_for_update().filter(pk=requirement_id).first()
        if r is None:
            raise PlatformError("要求事項が見つかりません。")
        old = r.classification
        r.classification, r.setting_keys, r.note = classification, keys, (note or "")[:1000]
        r.classified_by, r.classified_at = user.username, timezone.now()
        r.save(update_fields=["classification", "setting_keys", "note", "classified_by", "classified_at"])
        append(municipality, "requirement.classified", actor=user, terminal=terminal, object_type="requirement",
               object_id=r.code, detail={"old": old, "new": classification, "settings": keys})
    return r


# ------------------------------------------------------------------------------------------- 割り勘

MAX_YEN = 100_000_000_000


def add_cost_item(user, *, fiscal_year, category, label, amount_yen, rule, terminal="system"):
    """One annual cost of the platform (operator)."""
    from .models import AllocationRule, CostCategory, CostItem

    _require_operator(user)
    errors = {}
    try:
        fiscal_year = int(str(fiscal_year).strip())
        if not 2000 <= fiscal_year <= 2100:
            raise ValueError
    except ValueError:
        errors["fiscal_year"] = ["年度は西暦4桁で入力してください（例: 2026）。"]
    if category not in CostCategory.values:
        errors["category"] = ["費目を選んでください。"]
    if rule not in AllocationRule.values:
        errors["rule"] = ["按分方法を選んでください（均等割・人口割・利用割）。"]
    label = (label or "").strip()
    if not label or len(label) > 100:
        errors["label"] = ["内容を100文字以内で入力してください。"]
    try:
        amount_yen = int(str(amount_yen).replace(",", "").replace("円", "").strip())
        if not 0 < amount_yen <= MAX_YEN:
            raise ValueError
    except ValueError:
        errors["amount_yen"] = ["年額は1円以上の整数（円）で入力してください。"]
    if errors:
        raise PlatformError(errors)
    with transaction.atomic():
        item = CostItem.objects.create(fiscal_year=fiscal_year, category=category, label=label,
                                       amount_yen=amount_yen, rule=rule, created_by=user.username,
                                       created_at=timezone.now())
        append(None, "cost_item.added", actor=user, terminal=terminal, object_type="cost_item", object_id=item.pk,
               detail={"fiscal_year": fiscal_year, "category": category, "label": label, "amount_yen": amount_yen,
                       "rule": rule})
    return item


def remove_cost_item(user, item_id, *, terminal="system"):
    from .models import CostItem

    _require_operator(user)
    with transaction.atomic():
        item = CostItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            raise PlatformError("費用の項目が見つかりません。")
        detail = {"fiscal_year": item.fiscal_year, "label": item.label, "amount_yen": item.amount_yen}
        item.delete()
        append(None, "cost_item.removed", actor=user, terminal=terminal, object_type="cost_item", object_id=item_id,
               detail=detail)


# ------------------------------------------------------------------------------------------- contract exit


def _exit_event(user, action, ex, terminal, **detail):
    """Exit events go to the platform chain: the municipality's own chain is among what is deleted."""
    append(None, action, actor=user, terminal=terminal, object_type="contract_exit", object_id=ex.pk,
           detail={"municipality": ex.municipality_code, **detail})


def start_exit(user, municipality, *, reason, terminal="system"):
    """The operator opens the exit of a municipality (契約終了)."""
    from .models import ContractExit, ExitStatus

    _require_operator(user)
    reason = (reason or "").strip()
    if not reason:
        raise PlatformError({"reason": ["契約終了の理由（契約番号・終了日など）を入力してください。"]})
    with transaction.atomic():
        if ContractExit.objects.filter(municipality=municipality).exclude(status=ExitStatus.DELETED).exists():
            raise PlatformError("この団体の契約終了の手続きは既に始まっています。")
        if ContractExit.objects.filter(municipality=municipality, status=ExitStatus.DELETED).exists():
            raise PlatformError("この団体のデータは既に削除されています。")
        ex = ContractExit.objects.create(municipality=municipality, municipality_code=municipality.code,
                                         municipality_name=str(municipality), reason=reason[:500],
                                         started_by=user.username, started_at=timezone.now())
        _exit_event(user, "contract_exit.started", ex, terminal, reason=reason[:500])
    return ex


def export_for_exit(user, exit_id, *, terminal="system"):
    """The full export (register with all history and 外字, issuance log, settings, audit chain with its
    verification), written to the exit directory; its SHA-256 is what the municipality confirms."""
    from . import exit as exit_
    from .models import ContractExit, ExitStatus

    _require_operator(user)
    ex = ContractExit.objects.select_related("municipality", "municipality__prefecture").filter(pk=exit_id).first()
    if ex is None:
        raise PlatformError("契約終了の手続きが見つかりません。")
    if ex.status not in (ExitStatus.STARTED, ExitStatus.EXPORTED):
        raise PlatformError(f"この手続きは「{ex.get_status_display()}」のため、出力し直せません。")
    # the export writes its own audit entry to the municipality's chain (kept in the archive), outside this
    # transaction: it reads the register under its own snapshot
    path, sha, manifest = exit_.build_archive(ex.municipality, ex.pk, actor=user)
    with transaction.atomic():
        ex = ContractExit.objects.select_for_update().get(pk=exit_id)
        ex.archive_path, ex.archive_sha256, ex.manifest = str(path), sha, manifest
        ex.exported_at, ex.status = timezone.now(), ExitStatus.EXPORTED
        ex.confirmed_by, ex.confirmed_at = "", None
        ex.save(update_fields=["archive_path", "archive_sha256", "manifest", "exported_at", "status",
                               "confirmed_by", "confirmed_at"])
        _exit_event(user, "contract_exit.exported", ex, terminal, sha256=sha, files=len(manifest["files"]),
                    audit_chain_ok=manifest["audit_chain_ok"])
    return ex


def download_exit_archive(user, exit_id, *, terminal="system"):
    """The archive of a contract exit holds the whole register unredacted (DV-protected addresses, 個人番号), so only
    the municipality's own admin who holds both rights may take it — never the operator, who starts, exports and
    deletes but does not read residents' data. Every download is audited (platform chain). Returns the file path."""
    from jichitai.privacy import policy

    from .models import ContractExit, ExitStatus

    ex = ContractExit.objects.select_related("municipality").filter(pk=exit_id).first()
    if ex is None or not ex.archive_path or ex.status == ExitStatus.DELETED:
        raise PlatformError("出力ファイルがありません。")
    _require_admin_of(user, ex.municipality)
    reader = policy.for_staff(user)
    if not (reader.dv_addresses and reader.individual_number):
        raise PermissionDenied("出力ファイルには支援措置対象者の住所と個人番号が含まれるため、両方の閲覧権限を持つ管理者だけが受け取れます。")
    with transaction.atomic():
        _exit_event(user, "contract_exit.downloaded", ex, terminal, sha256=ex.archive_sha256)
    return ex.archive_path


def confirm_exit(user, exit_id, *, sha256_typed, terminal="system"):
    """The municipality's admin confirms that the archive arrived intact: he types the first 12 characters of the
    SHA-256 he computed (or read off the downloaded file)."""
    from .models import ContractExit, ExitStatus

    with transaction.atomic():
        ex = ContractExit.objects.select_for_update().select_related("municipality").filter(pk=exit_id).first()
        if ex is None:
            raise PlatformError("契約終了の手続きが見つかりません。")
        _require_admin_of(user, ex.municipality)
        if ex.status != ExitStatus.EXPORTED:
            raise PlatformError("出力が済んでいないため、受領を確認できません。")
        typed = (sha256_typed or "").strip().lower()
        if len(typed) < 12 or not ex.archive_sha256.startswith(typed):
            raise PlatformError({"sha256": ["SHA-256 の先頭12文字以上を入力してください（出力ファイルの値と一致しません）。"]})
        ex.confirmed_by, ex.confirmed_at, ex.status = user.username, timezone.now(), ExitStatus.CONFIRMED
        ex.save(update_fields=["confirmed_by", "confirmed_at", "status"])
        _exit_event(user, "contract_exit.confirmed", ex, terminal, sha256=ex.archive_sha256)
    return ex


def delete_for_exit(user, exit_id, *, typed_code, terminal="system"):
    """Verified deletion after the municipality's confirmation: the one purge path (guard.purge), then what the purge
    keeps (staff accounts, 個別 settings, request counters), then the check that no row refers to the municipality,
    then the signed certificate of deletion. The municipality row stays, marked not in use, for the record."""
    from django.db import connection

    from jichitai.guard.purge import purge_municipality
    from jichitai.tenancy.models import Municipality, StaffUser

    from . import exit as exit_
    from .models import ContractExit, ExitStatus, RequestMetric

    _require_operator(user)
    ex = ContractExit.objects.select_related("municipality").filter(pk=exit_id).first()
    if ex is None:
        raise PlatformError("契約終了の手続きが見つかりません。")
    if ex.status != ExitStatus.CONFIRMED:
        raise PlatformError("団体の受領確認が済んでいないため、削除できません。")
    if (typed_code or "").strip() != ex.municipality_code:
        raise PlatformError({"code": ["確認のため、削除する団体の地方公共団体コード（5桁）を入力してください。"]})
    m = ex.municipality
    with transaction.atomic():
        counts = purge_municipality(m, reason=f"contract exit {ex.pk}", actor=user, terminal=terminal)
        counts = {k: v for k, v in counts.items() if v}
        from . import engine

        counts["platform_setting_value+proposal"] = engine.delete_municipality_values(m)
        counts["platform_request_metric"] = RequestMetric.objects.filter(municipality=m).delete()[0]
        staff = list(StaffUser.objects.filter(municipality=m))
        counts["tenancy_staffuser"] = len(staff)
        for s in staff:
            s.delete()  # cascades to its authenticator devices
        left = exit_.rows_left(m)
        if left:
            raise PlatformError(f"削除後も行が残っています: {left}")
        Municipality.objects.filter(pk=m.pk).update(is_active=False)
        # the platform's copy of the archive holds the same personal data: it goes too (the municipality confirmed
        # it has its own copy, whose SHA-256 the certificate names)
        removed = False
        if ex.archive_path:
            import os

            try:
                os.remove(ex.archive_path)
                removed = True
            except FileNotFoundError:
                removed = True
        now = timezone.now()
        statement = {
            "title": "データ削除証明書 / certificate of deletion",
            "municipality": {"code": m.code, "name": ex.municipality_name},
            "exit": ex.pk, "reason": ex.reason, "started_at": ex.started_at, "started_by": ex.started_by,
            "archive_sha256": ex.archive_sha256, "exported_at": ex.exported_at, "platform_copy_removed": removed,
            "confirmed_by": ex.confirmed_by, "confirmed_at": ex.confirmed_at,
            "deleted_at": now, "deleted_by": user.username, "rows_deleted": counts,
            "verification": {"tables_checked": len(exit_.municipality_references()), "rows_left": 0,
                             "database": connection.vendor},
        }
        signature, key_id = exit_.sign(json.loads(exit_.canonical(statement)))
        ex = ContractExit.objects.select_for_update().get(pk=ex.pk)
        ex.status, ex.deleted_at, ex.deletion_counts = ExitStatus.DELETED, now, counts
        ex.certificate = json.loads(exit_.canonical(statement))
        ex.certificate_signature, ex.certificate_key_id = signature, key_id
        ex.save(update_fields=["status", "deleted_at", "deletion_counts", "certificate", "certificate_signature",
                               "certificate_key_id"])
        _exit_event(user, "contract_exit.deleted", ex, terminal, rows_deleted=sum(counts.values()),
                    signature_key=key_id)
    return ex


# ------------------------------------------------------------------------------------------- CEPTOAR

MAX_BODY = 10_000


def broadcast_advisory(user, *, kind, title, body, severity="中", codes=None, terminal="system"):
    """The operator sends an advisory (早期警戒情報 / 注意喚起) to all active municipalities or the chosen ones."""
    from jichitai.tenancy.models import Municipality

    from .models import Advisory, AdvisoryKind, AdvisoryRecipient

    _require_operator(user)
    errors = {}
    if kind not in AdvisoryKind.values:
        errors["kind"] = ["種別を選んでください（早期警戒情報・注意喚起）。"]
    title, body = (title or "").strip(), (body or "").strip()
    if not title or len(title) > 200:
        errors["title"] = ["件名を200文字以内で入力してください。"]
    if not body or len(body) > MAX_BODY:
        errors["body"] = [f"内容を{MAX_BODY:,}文字以内で入力してください。"]
    if severity not in ("高", "中", "低"):
        errors["severity"] = ["重要度は 高・中・低 から選んでください。"]
    munis = list(Municipality.objects.filter(is_active=True))
    if codes:
        wanted = set(codes)
        unknown = wanted - {m.code for m in munis}
        if unknown:
            errors["codes"] = [f"利用中でない団体コードです: {'、'.join(sorted(unknown))}"]
        munis = [m for m in munis if m.code in wanted]
    if not munis and "codes" not in errors:
        errors["codes"] = ["配信先の団体がありません。"]
    if errors:
        raise PlatformError(errors)
    with transaction.atomic():
        adv = _create_advisory(user, kind, title, body, severity, munis)
        append(None, "advisory.broadcast", actor=user, terminal=terminal, object_type="advisory",
               object_id=adv.pk, detail={"kind": kind, "title": title, "to": sorted(m.code for m in munis)})
    return adv


def _create_advisory(user, kind, title, body, severity, munis):
    from .models import Advisory, AdvisoryRecipient

    adv = Advisory.objects.create(kind=kind, title=title, body=body, severity=severity, issued_by=user.username,
                                  issued_at=timezone.now())
    for m in munis:
        with tenant_scope(m):
            AdvisoryRecipient.objects.create(advisory=adv)
    return adv


def acknowledge_advisory(user, municipality, advisory_id, *, action_taken="", terminal="system"):
    """The municipality's admin acknowledges an advisory (確認), saying what was done."""
    from .models import AdvisoryRecipient

    _require_admin_of(user, municipality)
    with tenant_scope(municipality), transaction.atomic():
        r = AdvisoryRecipient.objects.select_for_update().filter(advisory_id=advisory_id).first()
        if r is None:
            raise PlatformError("この団体に配信された注意喚起ではありません。")
        if r.acknowledged_at:
            raise PlatformError("既に確認済みです。")
        r.acknowledged_by, r.acknowledged_at = user.username, timezone.now()
        r.action_taken = (action_taken or "").strip()[:500]
        r.save(update_fields=["acknowledged_by", "acknowledged_at", "action_taken"])
        append(municipality, "advisory.acknowledged", actor=user, terminal=terminal, object_type="advisory",
               object_id=advisory_id, detail={"action_taken": r.action_taken})
    return r


def report_incident(user, municipality, *, kind, occurred_at, detected_at, summary, affected_systems,
                    persons_affected=0, personal_data=False, contained=False, measures="", supersedes=None,
                    terminal="system"):
    """A municipality reports an incident (情報漏えい / IT障害) to the operator in the structured form. Reports are
    append-only: a correction is a new report naming the one it supersedes."""
    import datetime as dt

    from .models import IncidentKind, IncidentReport

    _require_admin_of(user, municipality)
    errors = {}
    if kind not in IncidentKind.values:
        errors["kind"] = ["種別を選んでください（情報漏えい・IT障害）。"]

    def when(name, raw, label):
        if isinstance(raw, dt.datetime):
            return raw if timezone.is_aware(raw) else timezone.make_aware(raw)
        try:
            v = dt.datetime.fromisoformat(str(raw).strip())
        except ValueError:
            errors[name] = [f"{label}を「2026-12-06T09:30」の形で入力してください。"]
            return None
        return v if timezone.is_aware(v) else timezone.make_aware(v)

    occ = when("occurred_at", occurred_at, "発生日時")
    det = when("detected_at", detected_at, "覚知日時")
    if occ and det and det < occ:
        errors["detected_at"] = ["覚知日時が発生日時より前になっています。"]
    if occ and occ > timezone.now() + dt.timedelta(minutes=5):
        errors["occurred_at"] = ["発生日時が未来になっています。"]
    summary, affected_systems = (summary or "").strip(), (affected_systems or "").strip()
    if not summary or len(summary) > 500:
        errors["summary"] = ["概要を500文字以内で入力してください。"]
    if not affected_systems or len(affected_systems) > 200:
        errors["affected_systems"] = ["影響を受けたシステムを200文字以内で入力してください。"]
    try:
        persons_affected = int(str(persons_affected or 0).replace(",", ""))
        if persons_affected < 0:
            raise ValueError
    except ValueError:
        errors["persons_affected"] = ["影響を受けた人数は0以上の整数で入力してください。"]
    if kind == IncidentKind.LEAK and not personal_data and persons_affected:
        errors["personal_data"] = ["情報漏えいで影響人数があるときは「個人情報を含む」を選んでください。"]
    if errors:
        raise PlatformError(errors)
    with tenant_scope(municipality), transaction.atomic():
        prev = None
        if supersedes:
            prev = IncidentReport.objects.filter(pk=supersedes).first()
            if prev is None:
                raise PlatformError({"supersedes": ["訂正する報告が見つかりません。"]})
        rep = IncidentReport.objects.create(
            kind=kind, occurred_at=occ, detected_at=det, summary=summary, affected_systems=affected_systems,
            persons_affected=persons_affected, personal_data=bool(personal_data), contained=bool(contained),
            measures=(measures or "").strip()[:1000], reported_by=user.username, reported_at=timezone.now(),
            supersedes=prev)
        append(municipality, "incident.reported", actor=user, terminal=terminal, object_type="incident_report",
               object_id=rep.pk, detail={"kind": kind, "personal_data": bool(personal_data),
                                         "persons_affected": persons_affected, "supersedes": supersedes or None})
    return rep


# ------------------------------------------------------------------------------------------- incident register

IMPACTS = {"outage": "停止", "degraded": "性能低下"}


def _parse_when(raw, errors, name, label):
    import datetime as dt

    if raw in (None, ""):
        return timezone.now()
    if isinstance(raw, dt.datetime):
        return raw if timezone.is_aware(raw) else timezone.make_aware(raw)
    try:
        v = dt.datetime.fromisoformat(str(raw).strip())
    except ValueError:
        errors[name] = [f"{label}を「2026-12-06T09:30」の形で入力してください。"]
        return None
    return v if timezone.is_aware(v) else timezone.make_aware(v)


def _notify(user, incident, text):
    """The affected municipalities are told through CEPTOAR (an 注意喚起 they acknowledge)."""
    from jichitai.tenancy.models import Municipality

    munis = Municipality.objects.filter(is_active=True)
    if incident.affected:
        munis = munis.filter(code__in=incident.affected)
    munis = list(munis)
    if munis:
        _create_advisory(user, "alert", f"障害のお知らせ: {incident.title}"[:200], text, "高", munis)
    return sorted(m.code for m in munis)


def open_incident(user, *, title, category, impact="outage", affected=(), started_at=None, text="",
                  notify=True, terminal="system"):
    """Register an incident; the responsible party comes from the 責任分界点 matrix (sla.RESPONSIBILITY)."""
    from . import sla
    from .models import Incident, IncidentEvent

    _require_operator(user)
    errors = {}
    title = (title or "").strip()
    if not title or len(title) > 200:
        errors["title"] = ["件名を200文字以内で入力してください。"]
    if category not in sla.RESPONSIBILITY:
        errors["category"] = ["区分を選んでください（責任分界点の表の区分）。"]
    if impact not in IMPACTS:
        errors["impact"] = ["影響を選んでください（停止・性能低下）。"]
    started = _parse_when(started_at, errors, "started_at", "発生日時")
    from jichitai.tenancy.models import Municipality

    affected = sorted({c.strip() for c in affected if c and c.strip()})
    unknown = set(affected) - set(Municipality.objects.filter(code__in=affected).values_list("code", flat=True))
    if unknown:
        errors["affected"] = [f"不明な団体コードです: {'、'.join(sorted(unknown))}"]
    if errors:
        raise PlatformError(errors)
    with transaction.atomic():
        inc = Incident.objects.create(title=title, category=category, responsible=sla.responsible_party(category),
                                      impact=impact, affected=affected, started_at=started, opened_by=user.username)
        IncidentEvent.objects.create(incident=inc, at=timezone.now(), kind="opened",
                                     text=(text or title)[:1000], by=user.username)
        notified = []
        if notify:
            notified = _notify(user, inc, f"{text or title}\n責任を負う者: {sla.PARTIES[inc.responsible]}")
            IncidentEvent.objects.create(incident=inc, at=timezone.now(), kind="notified",
                                         text=f"{len(notified)}団体に通知", by=user.username)
        append(None, "incident.opened", actor=user, terminal=terminal, object_type="incident", object_id=inc.pk,
               detail={"category": category, "responsible": inc.responsible, "impact": impact,
                       "affected": affected, "notified": notified})
    return inc


def update_incident(user, incident_id, *, text, resolve=False, resolved_at=None, notify=True, terminal="system"):
    """A timeline entry (経過), optionally the recovery (復旧), with a notification to the affected municipalities."""
    from .models import Incident, IncidentEvent

    _require_operator(user)
    errors = {}
    text = (text or "").strip()
    if not text or len(text) > 1000:
        errors["text"] = ["経過を1000文字以内で入力してください。"]
    when = _parse_when(resolved_at, errors, "resolved_at", "復旧日時") if resolve else None
    if errors:
        raise PlatformError(errors)
    with transaction.atomic():
        inc = Incident.objects.select_for_update().filter(pk=incident_id).first()
        if inc is None:
            raise PlatformError("障害が見つかりません。")
        if inc.resolved_at:
            raise PlatformError("この障害は復旧済みです。")
        if resolve:
            if when < inc.started_at:
                raise PlatformError({"resolved_at": ["復旧日時が発生日時より前になっています。"]})
            inc.resolved_at = when
            inc.save(update_fields=["resolved_at"])
        IncidentEvent.objects.create(incident=inc, at=timezone.now(), kind="resolved" if resolve else "update",
                                     text=text, by=user.username)
        notified = []
        if notify:
            notified = _notify(user, inc, text)
            IncidentEvent.objects.create(incident=inc, at=timezone.now(), kind="notified",
                                         text=f"{len(notified)}団体に通知", by=user.username)
        append(None, "incident.resolved" if resolve else "incident.updated", actor=user, terminal=terminal,
               object_type="incident", object_id=inc.pk, detail={"text": text[:200], "notified": notified})
    return inc


# ------------------------------------------------------------------------------------------- licences


def add_licence(user, *, product, vendor, basis, entitlement, note="", terminal="system"):
    from .models import Licence, LicenceBasis

    _require_operator(user)
    errors = {}
    product, vendor = (product or "").strip(), (vendor or "").strip()
    if not product or len(product) > 100:
        errors["product"] = ["製品名を100文字以内で入力してください。"]
    if not vendor or len(vendor) > 100:
        errors["vendor"] = ["提供者を100文字以内で入力してください。"]
    if basis not in LicenceBasis.values:
        errors["basis"] = ["基準を選んでください（物理サーバ・vCPU・利用者・団体）。"]
    try:
        entitlement = int(str(entitlement).replace(",", "").strip())
        if not 0 < entitlement <= 10_000_000:
            raise ValueError
    except ValueError:
        errors["entitlement"] = ["許諾数は1以上の整数で入力してください。"]
    if errors:
        raise PlatformError(errors)
    with transaction.atomic():
        lic = Licence.objects.create(product=product, vendor=vendor, basis=basis, entitlement=entitlement,
                                     note=(note or "")[:300], added_by=user.username, added_at=timezone.now())
        append(None, "licence.added", actor=user, terminal=terminal, object_type="licence", object_id=lic.pk,
               detail={"product": product, "basis": basis, "entitlement": entitlement})
    return lic


def remove_licence(user, licence_id, *, terminal="system"):
    from .models import Licence

    _require_operator(user)
    with transaction.atomic():
        lic = Licence.objects.select_for_update().filter(pk=licence_id).first()
        if lic is None:
            raise PlatformError("ライセンスが見つかりません。")
        detail = {"product": lic.product, "basis": lic.basis, "entitlement": lic.entitlement}
        lic.delete()
        append(None, "licence.removed", actor=user, terminal=terminal, object_type="licence", object_id=licence_id,
               detail=detail)


# ------------------------------------------------------------------------------------------- dependency audit


def record_dependency_audit(*, tool, lock_sha256, packages, ok, vulnerabilities, error, run_by="command"):
    """Store one run of the operator's dependency audit (the command calls this after pip-audit has run)."""
    from .models import DependencyAudit

    with transaction.atomic():
        rec = DependencyAudit.objects.create(run_at=timezone.now(), run_by=run_by, tool=tool or "-",
                                             lock_sha256=lock_sha256, packages=packages, ok=bool(ok),
                                             vulnerabilities=list(vulnerabilities), error=(error or "")[:1000])
        append(None, "dependency_audit.run", object_type="dependency_audit", object_id=rec.pk,
               detail={"ok": rec.ok, "vulnerabilities": len(rec.vulnerabilities), "error": rec.error[:200]})
    return rec
