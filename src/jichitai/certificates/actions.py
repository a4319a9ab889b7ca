"""Issuing certificates, and the issuance log's other writes (refuse, void, reprint).

Issuing runs in three short steps rather than one long transaction, so that the PDF (≈ 0.1 s of CPU) is not made
while holding the database's write lock and the number series' row lock:
  1. one transaction: take the next 発行番号, write the issuance row and its audit event;
  2. render the PDF outside any transaction (its QR code and 発行番号 come from step 1);
  3. one UPDATE records the page count and the PDF's SHA-256.
If rendering fails, the issuance is voided with the reason recorded, so every 発行番号 stays accounted for; no gap,
no silent loss. A refusal (e.g. a third party asking for a DV-protected person) is written to the log too.
"""
import datetime as dt
import hashlib
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from jichitai.audit.actions import append as audit_append
from jichitai.continuity import offline
from jichitai.privacy import policy
from jichitai.residents.actions import RuleError
from jichitai.residents.models import ChangeKind, Household, Person, PersonHistory, Status
from jichitai.residents.queries import FIELD_LABELS
from jichitai.tenancy.models import next_number
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality

from . import config, qr, render, signing
from .models import Issuance, IssuanceStatus, Kind, Layout, RequesterKind

MAX_PERSONS = 30
MAX_COPIES = 10
DV_REFUSAL = ("DV等支援措置の対象者が含まれるため、第三者からの請求には交付できません"
              "（住民基本台帳事務処理要領による支援措置）。この拒否は交付簿に記録しました。")
FAILED_RENDER = "PDFの作成に失敗したため自動的に取り消しました"

KIND_PREFIX = {Kind.RESIDENT_COPY: "resident_copy", Kind.REMOVED_COPY: "removed_copy",
               Kind.ENTRY_CERTIFICATE: "entry_certificate", Kind.MOVE_OUT_CERTIFICATE: "move_out_certificate",
               Kind.DISASTER_VICTIM: "disaster_victim"}
HOUSEHOLD_KINDS = {Kind.RESIDENT_COPY, Kind.REMOVED_COPY, Kind.MOVE_OUT_CERTIFICATE}
OPTION_KEYS = tuple(render.OPTION_LABELS)


@dataclass
class CertificateRequest:
    """What the counter clerk asked for. `person_ids` in print order. `token`: the confirmation page's one-time
    token; a request whose token was already used is not issued a second time."""
    kind: str
    person_ids: list
    requester_kind: str
    layout: str = Layout.INDIVIDUAL
    options: dict = field(default_factory=dict)
    requester_name: str = ""
    purpose: str = ""
    copies: int = 1
    token: str = ""


class AlreadyIssued(RuleError):
    """The same confirmation page was submitted twice; `issuance` is the first one's log row."""

    def __init__(self, issuance):
        self.issuance = issuance
        super().__init__(f"この請求は既に処理済みです（発行番号 {issuance.issue_no or '—'}）。"
                         "二重に発行していません。交付簿で確認してください")


@dataclass
class Outcome:
    issuance: Issuance
    pdf: bytes | None = None
    refused: bool = False
    message: str = ""


def _check_user(user, perm=Perm.ISSUE_CERTIFICATES):
    m = require_municipality()
    if getattr(user, "municipality_id", None) != m.pk or not has_perm(user, perm):
        raise RuleError("証明書を発行する権限がありません")
    return m


def _clean_options(options: dict) -> dict:
    unknown = set(options) - set(OPTION_KEYS)
    if unknown:
        raise RuleError(f"不明な記載事項の指定です: {', '.join(sorted(unknown))}")
    return {k: bool(options.get(k)) for k in OPTION_KEYS}


def validate(user, req: CertificateRequest) -> tuple[list, dict]:
    """Check a request against the rules; return the persons (rows, in print order) and the cleaned options.
    Raises RuleError with Japanese messages keyed by form field."""
    errors = {}
    if req.kind == Kind.DISASTER_VICTIM:
        raise RuleError({"kind": "罹災証明書は被災者台帳（住家の被害認定）から発行してください"})
    if req.kind not in Kind.values:
        errors["kind"] = "証明書の種類を選んでください"
    if req.layout not in Layout.values:
        errors["layout"] = "様式を選んでください"
    elif req.layout == Layout.HOUSEHOLD and req.kind not in HOUSEHOLD_KINDS:
        errors["layout"] = "世帯連記式はこの証明書では選べません"
    if req.requester_kind not in RequesterKind.values:
        errors["requester_kind"] = "請求者の区分を選んでください"
    name, purpose = (req.requester_name or "").strip(), (req.purpose or "").strip()
    if req.requester_kind in (RequesterKind.AGENT, RequesterKind.THIRD_PARTY, RequesterKind.OFFICIAL):
        if not name:
            errors["requester_name"] = "代理人・第三者・公用の請求では、請求者（機関）の名称を入力してください"
        if not purpose:
            errors["purpose"] = "代理人・第三者・公用の請求では、使用目的を入力してください"
    if len(name) > 120:
        errors["requester_name"] = "請求者氏名は120文字以内で入力してください"
    if len(purpose) > 200:
        errors["purpose"] = "使用目的は200文字以内で入力してください"
    try:
        copies = int(req.copies)
    except (TypeError, ValueError):
        copies = 0
    if not 1 <= copies <= MAX_COPIES:
        errors["copies"] = f"通数は1〜{MAX_COPIES}の数で入力してください"
    opts = _clean_options(req.options or {})
    if opts["individual_number"]:
        if req.requester_kind not in (RequesterKind.SELF, RequesterKind.SAME_HOUSEHOLD):
            errors["individual_number"] = "個人番号の記載は、本人または同一世帯の方の請求に限られます"
        elif not has_perm(user, Perm.VIEW_INDIVIDUAL_NUMBER):
            errors["individual_number"] = "個人番号を記載する権限がありません"
        elif req.kind == Kind.MOVE_OUT_CERTIFICATE:
            errors["individual_number"] = "転出証明書には個人番号を記載できません"
    if req.requester_kind == RequesterKind.THIRD_PARTY:
        for k in ("honseki", "resident_code", "foreign_items"):
            if opts[k]:
                errors[k] = f"第三者の請求では{render.OPTION_LABELS[k]}を記載できません"
    ids = []
    for raw in req.person_ids or []:
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            errors["person_ids"] = "対象者の指定が正しくありません"
    if not ids:
        errors["person_ids"] = "対象者を1人以上選んでください"
    elif len(ids) > MAX_PERSONS or len(set(ids)) != len(ids):
        errors["person_ids"] = f"対象者は重複なく{MAX_PERSONS}人までです"
    if errors:
        raise RuleError(errors)
    found = {p.pk: p for p in Person.objects.filter(pk__in=ids).select_related("household")}
    if len(found) != len(ids):
        raise RuleError({"person_ids": "対象者が見つかりません（この団体の住民記録にありません）"})
    persons = [found[i] for i in ids]
    for p in persons:
        label = render.joined_name(p.family_name, p.given_name)
        if req.kind in (Kind.RESIDENT_COPY, Kind.ENTRY_CERTIFICATE) and p.status != Status.RESIDENT:
            errors["person_ids"] = f"{label} さんは消除されています。除票の写しを選んでください"
        elif req.kind == Kind.REMOVED_COPY and p.status != Status.REMOVED:
            errors["person_ids"] = f"{label} さんは除票ではありません。住民票の写しを選んでください"
        elif req.kind == Kind.MOVE_OUT_CERTIFICATE and p.move_out_state not in ("予定", "確定"):
            errors["person_ids"] = f"{label} さんには転出の届出がありません"
    if req.layout == Layout.HOUSEHOLD and len({p.household_id for p in persons}) > 1:
        errors["person_ids"] = "世帯連記式には同じ世帯の人だけを選んでください"
    if (policy.protected_person_ids(persons) and not policy.for_staff(user).dv_addresses
            and req.requester_kind != RequesterKind.THIRD_PARTY):  # a third party's request is refused (and logged)
        errors["person_ids"] = ("DV等支援措置の対象者が含まれています。証明書には住所が記載されるため、"
                                "支援措置対象者の住所を閲覧できる職員が発行してください")
    if errors:
        raise RuleError(errors)
    return persons, opts


class SignerMissing(RuleError):
    """The certificate would be signed by nobody: the mayor's name or the seal is unset."""


def missing_signer(settings: dict) -> list[str]:
    """What of the 証明者 is unset in the effective settings: 市区町村長の氏名 (empty, or still the standard
    placeholder), 公印の画像 (none uploaded: the renderer would draw its placeholder). Issuing is refused meanwhile."""
    missing = []
    name = (settings.get("mayor_name") or "").strip()
    if not name or name == config.SETTINGS["mayor_name"].default:
        missing.append("市区町村長の氏名")
    if not settings.get("seal_image"):
        missing.append("公印の画像")
    return missing


def _require_signer(settings: dict):
    missing = missing_signer(settings)
    if missing:
        raise SignerMissing({"__all__": [
            f"証明書を発行できません。証明書設定の{'と'.join(missing)}が未設定です。自治体管理者が「証明書設定」で"
            f"{'・'.join(missing)}を設定してください（未設定のまま公式の証明書に印字することはできません）。"]})


def _fee(settings: dict, kind: str, requester_kind: str, copies: int, reprint: bool) -> int:
    if reprint or requester_kind == RequesterKind.OFFICIAL:
        return 0
    return int(settings.get(f"fee_{KIND_PREFIX[kind]}", 0) or 0) * copies


def quote(user, req: CertificateRequest) -> dict:
    """What the confirmation screen shows before issuing: persons, options, fee. Writes nothing."""
    m = _check_user(user)
    persons, opts = validate(user, req)
    settings = config.effective(m)
    _require_signer(settings)
    return {"persons": persons, "options": opts, "fee": _fee(settings, req.kind, req.requester_kind,
                                                              int(req.copies), False),
            "dv_refusal": _dv_refused(persons, req)}


def _dv_refused(persons, req) -> bool:
    """A third party never gets a certificate of a protected person (the read policy's rule: the current flag,
    and household members when the municipality protects them)."""
    return req.requester_kind == RequesterKind.THIRD_PARTY and bool(policy.protected_person_ids(persons))


def _row_dict(p: Person) -> dict:
    return {f.attname: getattr(p, f.attname) for f in Person._meta.concrete_fields}


# What 記載の内容 may name: only items the certificate itself prints (never flags such as DV等支援措置,
# 成年被後見人 or the insurance memberships, never the internal 世帯番号 or the latest 届出日).
_HISTORY_ITEMS = ["family_name", "given_name", "family_name_kana", "given_name_kana", "former_family_name",
                  "alias_name", "birth_date", "sex", "address", "address_katagaki", "address_date",
                  "previous_address", "became_resident_date"]
_HISTORY_OPTION_ITEMS = {"head_relationship": ["relationship"], "honseki": ["honseki", "hittosha"],
                         "resident_code": ["resident_code"], "individual_number": ["individual_number"],
                         "foreign_items": ["nationality", "foreign_category", "residence_status", "period_of_stay",
                                           "stay_expiry", "residence_card_no"]}


def _history_rows(m, person: Person, opts: dict, reader: policy.Reader) -> list:
    """記載の内容 of the history. An address recorded while the person was protected is left out for a requester
    the read policy does not give it to (policy.for_certificate)."""
    person_protected = policy.person_is_protected(person)
    shown = list(_HISTORY_ITEMS)
    for option, items in _HISTORY_OPTION_ITEMS.items():
        if opts.get(option):
            shown += items
    out, prev = [], None
    for h in PersonHistory.objects.filter(person=person).order_by("history_no"):
        snap = h.snapshot
        if prev is None:
            detail = "記載"
        else:
            changed = [k for k in shown if prev.get(k) != snap.get(k)]
            if ("address" in changed or "address_katagaki" in changed) and policy.withholds_address(
                    reader, person_protected=person_protected, snapshot=snap):
                detail = "住所（支援措置のため省略）"
                changed = [k for k in changed if k not in policy.ADDRESS_FIELDS]
                if changed:
                    detail += "／" + "・".join(FIELD_LABELS.get(k, k) for k in changed)
            elif "address" in changed or "address_katagaki" in changed:
                detail = "住所 " + render.printed_address(m, {"address": snap.get("address") or "",
                                                     "address_katagaki": snap.get("address_katagaki") or ""})
                changed = [k for k in changed if k not in ("address", "address_katagaki")]
                if changed:
                    detail += "／" + "・".join(FIELD_LABELS.get(k, k) for k in changed)
            else:
                detail = "・".join(FIELD_LABELS.get(k, k) for k in changed)
        out.append({"no": h.history_no, "date": render.wareki_text(h.change_date), "kind": ChangeKind(h.change_kind).label,
                    "notified": render.wareki_text(h.notification_date), "detail": detail})
        prev = snap
    return out


def _previous_address_in_town(p: Person) -> bool:
    """Whether 前住所 is an address in this municipality (it came with a 転居, and is stored without the
    prefecture and municipality names) rather than one elsewhere or abroad, stored as given at a 転入."""
    if not p.previous_address:
        return False
    last = (PersonHistory.objects.filter(person=p, change_kind=ChangeKind.MOVE_WITHIN)
            .order_by("-history_no").values_list("snapshot", flat=True).first())
    return bool(last) and last.get("previous_address") == p.previous_address


def _head_name(p: Person, heads: dict, removed_heads: dict) -> str:
    """世帯主 as the record stands: the person himself when he is (or, on a 除票, was) the head; for a removed
    member, the head who left with him (same removal date) if any, else the household's head."""
    if p.is_head or p.relationship == "世帯主":
        return render.joined_name(p.family_name, p.given_name)
    if p.status == Status.REMOVED:
        left_with = removed_heads.get((p.household_id, p.removal_date))
        if left_with:
            return left_with
    return heads.get(p.household_id, "")


def build_document(m, settings: dict, iss: Issuance, persons: list, opts: dict) -> render.Document:
    household_layout = iss.layout == Layout.HOUSEHOLD
    head_names, removed_heads = {}, {}
    hh_ids = {p.household_id for p in persons}
    for hh in Household.objects.filter(pk__in=hh_ids).select_related("head"):
        head_names[hh.pk] = render.joined_name(hh.head.family_name, hh.head.given_name) if hh.head_id else ""
    if any(p.status == Status.REMOVED for p in persons):
        for h in Person.objects.filter(household_id__in=hh_ids, relationship="世帯主", status=Status.REMOVED):
            removed_heads[(h.household_id, h.removal_date)] = render.joined_name(h.family_name, h.given_name)
    entries = []
    for n, p in enumerate(persons, 1):
        d = _row_dict(p)
        d["head_name"] = _head_name(p, head_names, removed_heads)
        d["previous_address_in_town"] = _previous_address_in_town(p)
        if policy.withholds_previous_address(policy.for_certificate(iss.requester_kind), d["previous_address"]):
            # a member who left a protected household: his 前住所 is its protected address (the read policy)
            d["previous_address"], d["previous_address_in_town"] = render.WITHHELD_PREVIOUS_ADDRESS, False
        rows = render.person_rows(m, d, iss.kind, opts, household_layout=household_layout,
                                  show_kana=bool(settings.get("show_kana", True)))
        history = _history_rows(m, p, opts, policy.for_certificate(iss.requester_kind)) if opts["history"] else []
        entries.append(render.Entry(number=n, rows=rows, history=history))
    header = []
    if household_layout:
        first = _row_dict(persons[0])
        header.append(render.Row("住所", render.printed_address(m, first), mj=True))
        header.append(render.Row("世帯主", _head_name(persons[0], head_names, removed_heads)
                                 if opts["head_relationship"] else render.OMITTED, mj=True))
    omitted = [label for k, label in render.OPTION_LABELS.items() if k != "history" and not opts[k]
               and not (k == "honseki" and all(p.is_foreign for p in persons))  # foreigners have no 本籍
               and not (k == "foreign_items" and not any(p.is_foreign for p in persons))]
    if iss.kind == Kind.ENTRY_CERTIFICATE:
        omitted = []
    prefix = KIND_PREFIX[iss.kind]
    code = signing.make_code(iss)
    return render.Document(
        title=settings.get(f"title_{prefix}", Kind(iss.kind).label),
        kind=iss.kind, layout=iss.layout, municipality_label=f"{m.prefecture.name}{m.name}",
        header_rows=header, entries=entries, per_page=int(settings.get("household_rows_per_page", 4)),
        attestation=settings.get(f"attestation_{prefix}", ""), issue_date=iss.issue_date,
        mayor_title=settings.get("mayor_title", ""), mayor_name=settings.get("mayor_name", ""),
        office_name=settings.get("office_name", ""),
        seal_uri=settings.get("seal_image") or render.seal_png_uri(settings.get("mayor_title", "")),
        issue_no=iss.issue_no + ("（オフライン発行）" if iss.offline_device else ""),
        qr_uri=qr.qr_png_data_uri(signing.verify_url(code)),
        footer_note=settings.get("footer_note", ""),
        options_note=("記載を省略した事項：" + "、".join(omitted)) if omitted else "",
        code=code, coverage=_household_coverage(persons) if household_layout else "",
    )


def _household_coverage(persons) -> str:
    """The 世帯連記式 認証文's statement of what the copy covers: the whole household, or the members listed."""
    hh = persons[0].household_id
    current = set(Person.objects.filter(household_id=hh, status=Status.RESIDENT).values_list("pk", flat=True))
    listed = {p.pk for p in persons}
    if current and current <= listed:
        return f"この写しは、世帯全員（{len(current)}人）を記載したものである。"
    return f"この写しは、世帯員{len(current)}人のうち{len(listed & current) or len(listed)}人を記載したものである。"


def _audit(m, user, action, iss: Issuance, terminal, **detail):
    audit_append(m, action, actor=user, terminal=terminal, object_type="issuance", object_id=iss.pk,
                 detail={"issue_no": iss.issue_no, "kind": iss.kind, "atena_nos": iss.subject_atena_nos,
                         "requester_kind": iss.requester_kind, **detail})


def _check_token(req):
    if req.token:
        done = Issuance.objects.filter(request_token=req.token).first()
        if done is not None:
            raise AlreadyIssued(done)


def _refuse(m, user, req, persons, opts, terminal, reason) -> Outcome:
    with transaction.atomic():
        _check_token(req)
        iss = Issuance.objects.create(request_token=req.token,
            kind=req.kind, layout=req.layout, options=opts, person_ids=[p.pk for p in persons],
            subject_atena_nos=[p.atena_no for p in persons], household_no=persons[0].household.household_no,
            requester_kind=req.requester_kind, requester_name=(req.requester_name or "").strip(),
            purpose=(req.purpose or "").strip(), copies=int(req.copies), fee=0, issued_by=user,
            issued_at=timezone.now(), status=IssuanceStatus.REFUSED, refusal_reason=reason[:200])
        _audit(m, user, "certificate.refuse", iss, terminal, reason="dv_third_party")
    return Outcome(issuance=iss, refused=True, message=reason)


def _render_and_finish(m, user, settings, iss, persons, opts, terminal, *, build=None) -> Outcome:
    try:
        rendered = render.render_document((build or build_document)(m, settings, iss, persons, opts))
    except Exception as exc:
        with transaction.atomic():
            Issuance.objects.filter(pk=iss.pk).update(status=IssuanceStatus.VOIDED, void_reason=FAILED_RENDER,
                                                      voided_at=timezone.now())
            _offline_void(iss, FAILED_RENDER, user)
            _audit(m, user, "certificate.void", iss, terminal, reason=FAILED_RENDER, error=type(exc).__name__)
        raise
    iss.page_count = rendered.page_count
    iss.pdf_sha256 = hashlib.sha256(rendered.pdf).hexdigest()
    Issuance.objects.filter(pk=iss.pk).update(page_count=iss.page_count, pdf_sha256=iss.pdf_sha256)
    return Outcome(issuance=iss, pdf=rendered.pdf)


def _create(m, user, req, persons, opts, settings, *, reprint_of=None, today=None) -> Issuance:
    key = signing.signing_key(m)
    iss = Issuance.objects.create(
        request_token=req.token if reprint_of is None else "",
        issue_no=next_number(m, "certificate", 8), public_id=signing.new_public_id(), key_id=key.key_id,
        kind=req.kind, layout=req.layout, options=opts, person_ids=[p.pk for p in persons],
        subject_atena_nos=[p.atena_no for p in persons], household_no=persons[0].household.household_no,
        requester_kind=req.requester_kind, requester_name=(req.requester_name or "").strip(),
        purpose=(req.purpose or "").strip(), copies=int(req.copies),
        fee=_fee(settings, req.kind, req.requester_kind, int(req.copies), reprint_of is not None),
        issued_by=user, issued_at=timezone.now(), issue_date=today or timezone.localdate(),
        reprint_of=reprint_of, offline_device=offline.device())
    if iss.offline_device:  # an offline kit: numbers from the reserved block; the issue goes to the outbox
        try:
            offline.certificate_block_check(iss.issue_no)
        except ValidationError as e:
            raise RuleError(" ".join(e.messages)) from None
        offline.record("certificate_issued", offline_issuance_payload(iss), actor=user)
    return iss


OFFLINE_FIELDS = ("issue_no", "public_id", "key_id", "kind", "layout", "options", "person_ids", "subject_atena_nos",
                  "household_no", "requester_kind", "requester_name", "purpose", "copies", "fee", "issue_date",
                  "offline_device")


def _offline_void(iss, reason, user):
    """On an offline kit: the void goes to the outbox too (in the caller's transaction), so the platform voids the
    same certificate at sync. Does nothing on the platform."""
    offline.record("certificate_voided", {"public_id": iss.public_id, "issue_no": iss.issue_no,
                                          "reason": reason[:200], "voided_at": timezone.now().isoformat()}, actor=user)


def record_offline_void(p: dict, *, device: str, username: str, syncing_user=None, kit_built_at=None) -> Issuance:
    """Platform side, at sync: void the certificate a kit voided (by its 照合ID), so that /verify/ says so. Only a
    certificate the kit could know is voided: one it issued itself (its device) or one already in the 交付簿 when the
    kit was built (`kit_built_at`; the kit carries the 交付簿 as it was then). The void's time must lie between the
    certificate's issue (and the kit's building) and now. Anything else is refused (the sync queues it for a person)."""
    from jichitai.tenancy.models import StaffUser

    m = require_municipality()
    iss = Issuance.objects.select_for_update().filter(public_id=p["public_id"], issue_no=p["issue_no"]).first()
    if iss is None:
        raise ValidationError(f"取り消された証明書（発行番号 {p['issue_no']}）が交付簿にありません")
    if iss.status != IssuanceStatus.ISSUED:
        raise ValidationError(f"発行番号 {p['issue_no']} の証明書は発行済みの状態ではありません")
    if kit_built_at is not None and iss.offline_device != device and iss.issued_at > kit_built_at:
        raise ValidationError(f"発行番号 {p['issue_no']} の証明書はこの端末の作成後にオンラインで発行されたもので、"
                              "端末では取り消せません")
    try:
        voided_at = dt.datetime.fromisoformat(str(p.get("voided_at") or ""))
    except ValueError:
        voided_at = None
    if voided_at is not None and timezone.is_naive(voided_at):
        voided_at = None
    now = timezone.now()
    earliest = max(iss.issued_at, kit_built_at) if kit_built_at is not None else iss.issued_at
    if voided_at is None or voided_at < earliest or voided_at > now + dt.timedelta(minutes=10):
        raise ValidationError(f"発行番号 {p['issue_no']} の取消日時（{str(p.get('voided_at'))[:40]}）が正しくありません"
                              "（発行より前、端末の作成より前、または未来の日時）")
    user = StaffUser.objects.filter(municipality=m, username=username).first() or syncing_user
    Issuance.objects.filter(pk=iss.pk).update(status=IssuanceStatus.VOIDED, void_reason=str(p.get("reason", ""))[:200],
                                              voided_by=user, voided_at=voided_at)
    iss.refresh_from_db()
    _audit(m, user, "certificate.void", iss, f"offline:{device}", reason=iss.void_reason, offline=True)
    return iss


def offline_issuance_payload(iss) -> dict:
    d = {f: getattr(iss, f) for f in OFFLINE_FIELDS}
    d["reprint_of"] = iss.reprint_of.public_id if iss.reprint_of_id else ""
    d["issue_date"] = iss.issue_date.isoformat()
    d["issued_at"] = iss.issued_at.isoformat()
    d["issued_by"] = iss.issued_by.username
    return d


def record_offline_issuance(p: dict, *, device: str) -> Issuance:
    """Platform side, at sync: enter a certificate an offline kit issued into the 交付簿 with its own number and
    照合ID, so that /verify/ knows it. Runs inside the sync's transaction."""
    from jichitai.tenancy.models import StaffUser

    m = require_municipality()
    if Issuance.objects.filter(public_id=p["public_id"]).exists():
        raise ValidationError(f"照合ID {p['public_id']} の証明書はすでに交付簿にあります")
    if Issuance.objects.filter(issue_no=p["issue_no"]).exists():
        raise ValidationError(f"発行番号 {p['issue_no']} はすでに使われています")
    user = StaffUser.objects.filter(municipality=m, username=p["issued_by"]).first()
    if user is None:
        raise ValidationError(f"発行した職員 {p['issued_by']} がこの団体にいません")
    values = {f: p[f] for f in OFFLINE_FIELDS if f not in ("issue_date", "offline_device")}
    reprint_of = Issuance.objects.filter(public_id=p["reprint_of"]).first() if p.get("reprint_of") else None
    iss = Issuance.objects.create(**values, issue_date=dt.date.fromisoformat(p["issue_date"]), offline_device=device,
                                  issued_by=user, issued_at=dt.datetime.fromisoformat(p["issued_at"]),
                                  reprint_of=reprint_of)
    # the issue itself is in the kit's audit segment (merged at sync); this entry records its entry into the 交付簿
    _audit(m, user, "certificate.offline_record", iss, f"offline:{device}", copies=iss.copies, fee=iss.fee)
    return iss


def issue_certificate(user, req: CertificateRequest, *, terminal="system", today=None) -> Outcome:
    """Issue one certificate: validate, log, render. Returns the PDF, or a refusal (logged) for a DV-protected
    person requested by a third party."""
    m = _check_user(user)
    persons, opts = validate(user, req)
    if _dv_refused(persons, req):
        return _refuse(m, user, req, persons, opts, terminal, DV_REFUSAL)
    settings = config.effective(m)
    _require_signer(settings)
    try:
        with transaction.atomic():
            _check_token(req)
            iss = _create(m, user, req, persons, opts, settings, today=today)
            _audit(m, user, "certificate.issue", iss, terminal, layout=iss.layout, options=opts, fee=iss.fee,
                   copies=iss.copies)
    except IntegrityError:  # the same token committed by a concurrent submission in between
        done = Issuance.objects.filter(request_token=req.token).first() if req.token else None
        if done is None:
            raise
        raise AlreadyIssued(done) from None
    return _render_and_finish(m, user, settings, iss, persons, opts, terminal)


def _get_for_update(pk) -> Issuance:
    qs = Issuance.objects.filter(pk=pk)
    if transaction.get_connection().features.has_select_for_update:
        qs = qs.select_for_update()
    iss = qs.first()
    if iss is None:
        raise RuleError("交付簿に該当する記録がありません")
    return iss


def _clean_reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise RuleError({"reason": "理由を入力してください"})
    if len(reason) > 150:
        raise RuleError({"reason": "理由は150文字以内で入力してください"})
    return reason


def _may_void(user, iss: Issuance) -> bool:
    if has_perm(user, Perm.VOID_CERTIFICATES):
        return True
    return iss.issued_by_id == user.pk and timezone.localdate(iss.issued_at) == timezone.localdate()


def void_issuance(user, issuance: Issuance, *, reason, terminal="system") -> Issuance:
    """取消: the certificate is no longer valid (verification then reports it invalid). Admins may void any;
    the issuing clerk may void his own on the day of issue."""
    m = _check_user(user)
    reason = _clean_reason(reason)
    with transaction.atomic():
        iss = _get_for_update(issuance.pk)
        if iss.status != IssuanceStatus.ISSUED:
            raise RuleError("この証明書は発行済みの状態ではないため取り消せません")
        if not _may_void(user, iss):
            raise RuleError("この証明書を取り消す権限がありません（発行当日の発行者本人または管理者のみ）")
        iss.status, iss.void_reason, iss.voided_by, iss.voided_at = (
            IssuanceStatus.VOIDED, reason, user, timezone.now())
        Issuance.objects.filter(pk=iss.pk).update(status=iss.status, void_reason=reason, voided_by=user,
                                                  voided_at=iss.voided_at)
        _offline_void(iss, reason, user)
        _audit(m, user, "certificate.void", iss, terminal, reason=reason)
    return iss


def reprint(user, issuance: Issuance, *, reason, terminal="system", today=None) -> Outcome:
    """再発行 (e.g. a printer jam): the original is voided with the reason, and a new certificate with a new 発行番号
    is issued for the same request, without a second fee."""
    m = _check_user(user)
    reason = _clean_reason(reason)
    if issuance.kind == Kind.DISASTER_VICTIM:
        return reprint_disaster_certificate(user, issuance, reason=reason, terminal=terminal, today=today)
    req = CertificateRequest(kind=issuance.kind, layout=issuance.layout, person_ids=list(issuance.person_ids),
                             options=dict(issuance.options), requester_kind=issuance.requester_kind,
                             requester_name=issuance.requester_name, purpose=issuance.purpose,
                             copies=issuance.copies)
    persons, opts = validate(user, req)
    if _dv_refused(persons, req):  # protection may have begun after the original was issued
        return _refuse(m, user, req, persons, opts, terminal, DV_REFUSAL)
    settings = config.effective(m)
    _require_signer(settings)
    with transaction.atomic():
        original = _get_for_update(issuance.pk)
        if original.status != IssuanceStatus.ISSUED:
            raise RuleError("発行済みの証明書だけが再発行できます")
        if not _may_void(user, original):
            raise RuleError("この証明書を再発行する権限がありません（発行当日の発行者本人または管理者のみ）")
        now = timezone.now()
        Issuance.objects.filter(pk=original.pk).update(
            status=IssuanceStatus.VOIDED, void_reason=f"再発行のため取消：{reason}", voided_by=user, voided_at=now)
        _offline_void(original, f"再発行のため取消：{reason}", user)
        iss = _create(m, user, req, persons, opts, settings, reprint_of=original, today=today)
        _audit(m, user, "certificate.reprint", iss, terminal, reason=reason, original_issue_no=original.issue_no)
    return _render_and_finish(m, user, settings, iss, persons, opts, terminal)


# ---------------------------------------------------------------- 罹災証明書 (災害対策基本法 第90条の2)
#
# Issued per household from its latest damage assessment (住家の被害認定), which the disaster app passes in as
# plain facts (`facts`): the engine knows nothing of disasters, and the issuance row keeps exactly what was
# certified (options), so a reprint prints the same facts under a new 発行番号. Same log, numbers, codes, fee setting
# (標準 0円) and verification page as every other certificate.

DISASTER_FACT_KEYS = ("assessment_id", "disaster_id", "disaster_name", "occurred_on", "building_address",
                      "grade", "grade_label", "survey_kind_label", "surveyed_on", "damage_ratio")
DISASTER_REQUESTERS = (RequesterKind.SELF, RequesterKind.SAME_HOUSEHOLD, RequesterKind.AGENT)


def _disaster_request(req_kind, name, purpose, copies) -> dict:
    errors = {}
    if req_kind not in DISASTER_REQUESTERS:
        errors["requester_kind"] = "罹災証明書は、被災世帯の世帯員（本人・同一世帯）または代理人の申請に限り交付します"
    name, purpose = (name or "").strip(), (purpose or "").strip()
    if req_kind == RequesterKind.AGENT and not name:
        errors["requester_name"] = "代理人の申請では、代理人の氏名を入力してください"
    if len(name) > 120:
        errors["requester_name"] = "申請者氏名は120文字以内で入力してください"
    if len(purpose) > 200:
        errors["purpose"] = "使用目的は200文字以内で入力してください"
    try:
        copies = int(copies)
    except (TypeError, ValueError):
        copies = 0
    if not 1 <= copies <= MAX_COPIES:
        errors["copies"] = f"通数は1〜{MAX_COPIES}の数で入力してください"
    if errors:
        raise RuleError(errors)
    return {"name": name, "purpose": purpose, "copies": copies}


def _check_disaster_persons(user, persons, requester_kind):
    """Who may have a 罹災証明書 made: it prints the damaged dwelling's address, so for a household with a protected
    member only staff with the DV right issue it, and only to whom the read policy gives that address (本人・同一世帯;
    never a 代理人, 第三者 or 公用 request)."""
    if not persons:
        raise RuleError({"__all__": "この世帯には現在の世帯員がいないため、罹災証明書を作成できません"})
    if policy.protected_person_ids(persons):
        if not policy.for_staff(user).dv_addresses:
            raise RuleError({"__all__": "DV等支援措置の対象者がいる世帯です。罹災証明書には被災住家の所在地が記載されるため、"
                                        "支援措置対象者の住所を閲覧できる職員が発行してください"})
        if not policy.for_certificate(requester_kind).dv_addresses:
            raise RuleError({"requester_kind": "DV等支援措置の対象者がいる世帯の罹災証明書は、被災住家の所在地が記載されるため、"
                                               "本人または同一世帯の方の請求でのみ発行できます"})


def build_disaster_document(m, settings: dict, iss: Issuance, persons: list, opts: dict) -> render.Document:
    """The 罹災証明書 (after the Cabinet Office's 統一様式): household, dwelling, disaster, and the grade marked among
    all six."""
    from jichitai.disaster.models.support import DamageGrade  # labels only

    head = persons[0]
    marks = "　".join(("■" if g.value == opts["grade"] else "□") + g.label for g in DamageGrade)
    rows = [
        render.Row("世帯主氏名", render.joined_name(head.family_name, head.given_name), mj=True,
                   kana=render.joined_name(head.family_name_kana, head.given_name_kana)
                   if settings.get("show_kana", True) else ""),
        render.Row("世帯構成員", "、".join(render.joined_name(p.family_name, p.given_name) for p in persons)
                   + f"（{len(persons)}人）", mj=True),
        render.Row("被災住家の所在地", render.full_address(m, opts["building_address"]), mj=True),
        render.Row("災害名", opts["disaster_name"]),
        render.Row("災害発生日", render.wareki_text(opts["occurred_on"])),
        render.Row("住家の被害の程度", marks),
        render.Row("被害認定の調査", f"{opts['survey_kind_label']}（{render.wareki_text(opts['surveyed_on'])}）"),
    ]
    if iss.requester_kind == RequesterKind.AGENT:
        rows.append(render.Row("申請者", f"{iss.requester_name}（代理人）", mj=True))
    code = signing.make_code(iss)
    return render.Document(
        title=settings.get("title_disaster_victim", Kind.DISASTER_VICTIM.label), kind=iss.kind,
        layout=Layout.INDIVIDUAL, municipality_label=f"{m.prefecture.name}{m.name}", header_rows=[],
        entries=[render.Entry(number=1, rows=rows)], per_page=1,
        attestation=settings.get("attestation_disaster_victim", ""), issue_date=iss.issue_date,
        mayor_title=settings.get("mayor_title", ""), mayor_name=settings.get("mayor_name", ""),
        office_name=settings.get("office_name", ""),
        seal_uri=settings.get("seal_image") or render.seal_png_uri(settings.get("mayor_title", "")),
        issue_no=iss.issue_no, qr_uri=qr.qr_png_data_uri(signing.verify_url(code)),
        footer_note=settings.get("footer_note", ""), options_note="", code=code)


def disaster_certificate_fee(user, *, requester_kind: str, copies: int) -> int:
    """The fee a 罹災証明書 request would be charged (for the confirmation page). Writes nothing."""
    m = _check_user(user)
    return _fee(config.effective(m), Kind.DISASTER_VICTIM, requester_kind, int(copies), False)


def issue_disaster_certificate(user, *, persons: list, facts: dict, requester_kind: str, requester_name="",
                               purpose="", copies=1, token="", terminal="system", today=None) -> Outcome:
    """Issue a 罹災証明書 for a household (`persons`: its current members, head first) from a damage assessment's
    `facts` (DISASTER_FACT_KEYS). Logged in the 交付簿 like every certificate; the fee is the setting
    fee_disaster_victim (標準 0円)."""
    m = _check_user(user)
    missing = [k for k in DISASTER_FACT_KEYS if facts.get(k) in (None, "")]
    if missing:
        raise RuleError({"__all__": "住家の被害認定の内容が不足しているため発行できません"})
    clean = _disaster_request(requester_kind, requester_name, purpose, copies)
    _check_disaster_persons(user, persons, requester_kind)
    req = CertificateRequest(kind=Kind.DISASTER_VICTIM, person_ids=[p.pk for p in persons],
                             requester_kind=requester_kind, requester_name=clean["name"], purpose=clean["purpose"],
                             copies=clean["copies"], token=token)
    opts = {k: facts[k] for k in DISASTER_FACT_KEYS}
    settings = config.effective(m)
    _require_signer(settings)
    try:
        with transaction.atomic():
            _check_token(req)
            iss = _create(m, user, req, persons, opts, settings, today=today)
            _audit(m, user, "certificate.issue", iss, terminal, fee=iss.fee, copies=iss.copies,
                   assessment_id=opts["assessment_id"], grade=opts["grade"])
    except IntegrityError:
        done = Issuance.objects.filter(request_token=req.token).first() if req.token else None
        if done is None:
            raise
        raise AlreadyIssued(done) from None
    return _render_and_finish(m, user, settings, iss, persons, opts, terminal, build=build_disaster_document)


def reprint_disaster_certificate(user, issuance: Issuance, *, reason, terminal="system", today=None) -> Outcome:
    """再発行 of a 罹災証明書: the same certified facts, the household's current members, a new 発行番号."""
    m = _check_user(user)
    reason = _clean_reason(reason)
    persons = [p for p in queries_subjects(issuance) if p.status == Status.RESIDENT]
    _check_disaster_persons(user, persons, issuance.requester_kind)
    req = CertificateRequest(kind=issuance.kind, person_ids=[p.pk for p in persons],
                             requester_kind=issuance.requester_kind, requester_name=issuance.requester_name,
                             purpose=issuance.purpose, copies=issuance.copies)
    settings = config.effective(m)
    _require_signer(settings)
    with transaction.atomic():
        original = _get_for_update(issuance.pk)
        if original.status != IssuanceStatus.ISSUED:
            raise RuleError("発行済みの証明書だけが再発行できます")
        if not _may_void(user, original):
            raise RuleError("この証明書を再発行する権限がありません（発行当日の発行者本人または管理者のみ）")
        Issuance.objects.filter(pk=original.pk).update(
            status=IssuanceStatus.VOIDED, void_reason=f"再発行のため取消：{reason}", voided_by=user,
            voided_at=timezone.now())
        _offline_void(original, f"再発行のため取消：{reason}", user)
        iss = _create(m, user, req, persons, dict(original.options), settings, reprint_of=original, today=today)
        _audit(m, user, "certificate.reprint", iss, terminal, reason=reason, original_issue_no=original.issue_no)
    return _render_and_finish(m, user, settings, iss, persons, dict(original.options), terminal,
                              build=build_disaster_document)


def queries_subjects(issuance):
    from .queries import subjects

    return subjects(issuance)
