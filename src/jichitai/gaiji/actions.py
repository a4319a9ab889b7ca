"""Writes to the 外字 registry: one function per operation, one transaction and one audit event each.

Only a code-table match (住基ネット統一文字コード or 戸籍統一文字番号 given by the vendor and found in the MJ table)
is approved automatically; everything else waits for a person to compare the glyphs and approve it.
"""
import codecs

from django.db import transaction
from django.utils import timezone

from jichitai import moji
from jichitai.audit.actions import append as audit_append
from jichitai.residents.actions import Actor, ConflictError, RuleError
from jichitai.tenancy.roles import Perm, has_perm

from .models import CODE_TABLE_EVIDENCE, Evidence, GaijiMapping, GaijiMappingEvent, Status

MAX_GLYPH_BYTES = 256 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_private_use(ch: str) -> bool:
    cp = ord(ch)
    return 0xE000 <= cp <= 0xF8FF or 0xF0000 <= cp <= 0x10FFFD


def parse_legacy_code(code: str) -> tuple[str, str]:
    """'F040' (Shift_JIS user-defined area) or 'U+E000' (private use) → (private-use character, sjis code or '')."""
    text = (code or "").strip().upper().replace(" ", "")
    if text.startswith(("U+", "0X")) or (len(text) in (5, 6) and text.isalnum()):
        hexpart = text[2:] if text.startswith(("U+", "0X")) else text
        try:
            ch = chr(int(hexpart, 16))
        except (ValueError, OverflowError):
            raise RuleError({"code": "コードが読めません（例: F040 または U+E000）"}) from None
        if not is_private_use(ch):
            raise RuleError({"code": "私用領域（U+E000〜U+F8FF）の文字ではありません。外字ではないため登録できません"})
        try:
            sjis = ch.encode("cp932").hex().upper()
        except UnicodeEncodeError:
            sjis = ""
        return ch, sjis
    if len(text) != 4:
        raise RuleError({"code": "コードは Shift_JIS の4桁（F040〜F9FC）か U+E000 の形で入力してください"})
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise RuleError({"code": "コードが16進数ではありません"}) from None
    lead, trail = raw
    if not (0xF0 <= lead <= 0xF9 and (0x40 <= trail <= 0x7E or 0x80 <= trail <= 0xFC)):
        raise RuleError({"code": "Shift_JIS の利用者定義領域（F040〜F9FC）のコードではありません"})
    ch = codecs.decode(raw, "cp932")
    return ch, text


def _snapshot(m: GaijiMapping) -> dict:
    return {"pua": m.pua_hex, "sjis": m.sjis_code, "vendor": m.vendor, "mj": m.mj_name, "text": m.mapped_text,
            "status": m.status, "evidence": m.evidence, "reviewer": m.reviewer.username if m.reviewer else "",
            "reviewed_at": m.reviewed_at.isoformat() if m.reviewed_at else "", "version": m.version}


def _log(actor: Actor, m: GaijiMapping, action: str, note=""):
    GaijiMappingEvent.objects.create(mapping=m, action=action, at=timezone.now(), actor=actor.user.username,
                                     snapshot=_snapshot(m), note=note)
    audit_append(actor.municipality, f"gaiji.{action}", actor=actor.user, terminal=actor.terminal,
                 object_type="gaiji", object_id=m.pk, detail={"code": m.sjis_code or m.pua_hex, "mj": m.mj_name,
                                                              "status": m.status, "note": note})


def _require_admin(actor: Actor):
    if not has_perm(actor.user, Perm.MANAGE_GAIJI):
        raise RuleError("外字の対応を登録・承認する権限がありません")


def _code_table_match(juki: str, koseki: str):
    """Records found by the vendor's code-table references, with the evidence kind; [] if none."""
    found = []
    if juki:
        rec = moji.by_juki(juki)
        if rec is not None:
            found.append((Evidence.JUKI, rec))
    if koseki:
        rec = moji.by_koseki(koseki)
        if rec is not None:
            found.append((Evidence.KOSEKI, rec))
    return found


@transaction.atomic
def register_code(actor: Actor, *, code: str, vendor: str = "", glyph_png: bytes | None = None,
                  vendor_juki_code: str = "", vendor_koseki_no: str = "", vendor_note: str = "") -> GaijiMapping:
    """Record a legacy 外字 code. A code-table match approves it at once (evidence recorded); anything else stays
    確認待ち for a person."""
    _require_admin(actor)
    ch, sjis = parse_legacy_code(code)
    if glyph_png:
        if len(glyph_png) > MAX_GLYPH_BYTES:
            raise RuleError({"glyph": "字形画像が大きすぎます（256KBまで）"})
        if not glyph_png.startswith(PNG_MAGIC):
            raise RuleError({"glyph": "字形画像は PNG 形式にしてください"})
    vendor = (vendor or "").strip()
    if GaijiMapping.objects.filter(vendor=vendor, pua_char=ch).exists():
        raise RuleError({"code": "このベンダーのこのコードは既に登録されています"})
    juki = (vendor_juki_code or "").strip().upper()
    koseki = (vendor_koseki_no or "").strip()
    if juki and moji.by_juki(juki) is None:
        raise RuleError({"vendor_juki_code": "その住基ネット統一文字コードは MJ 文字情報一覧表にありません"})
    if koseki and moji.by_koseki(koseki) is None:
        raise RuleError({"vendor_koseki_no": "その戸籍統一文字番号は MJ 文字情報一覧表にありません"})
    m = GaijiMapping.objects.create(pua_char=ch, sjis_code=sjis, vendor=vendor, glyph_png=glyph_png or None,
                                    vendor_juki_code=juki, vendor_koseki_no=koseki,
                                    vendor_note=(vendor_note or "").strip())
    _log(actor, m, "registered")
    matches = _code_table_match(juki, koseki)
    mjs = {rec.mj for _, rec in matches}
    if len(mjs) == 1:
        evidence, rec = matches[0]
        _set(m, rec, Status.APPROVED, evidence, actor)
        _log(actor, m, "auto_approved", f"コード表一致による自動承認（{Evidence(evidence).label}）")
    elif len(mjs) > 1:
        m.mj_name = sorted(mjs)[0]
        m.save(update_fields=["mj_name"])
        _log(actor, m, "conflict", "住基コードと戸籍番号が別の文字を指しています。目視で確認してください")
    return m


def _set(m, rec, status, evidence, actor):
    m.mj_name = rec.mj if rec is not None else ""
    m.mapped_text = (rec.text or "") if rec is not None else ""
    m.status = status
    m.evidence = evidence
    m.reviewer = actor.user
    m.reviewed_at = timezone.now()
    _bump(m)


def _bump(m: GaijiMapping):
    expected = m.version
    fields = {f: getattr(m, f) for f in ("mj_name", "mapped_text", "status", "evidence", "reviewer_id",
                                         "reviewed_at")}
    if GaijiMapping.objects.filter(pk=m.pk, version=expected).update(version=expected + 1, **fields) != 1:
        raise ConflictError("この外字対応は、画面を開いた後に他の職員が更新しました。最新の内容を確認してください")
    m.version = expected + 1


def _locked(m: GaijiMapping, expected_version):
    fresh = GaijiMapping.objects.select_for_update().get(pk=m.pk)
    if expected_version is not None and fresh.version != expected_version:
        raise ConflictError("この外字対応は、画面を開いた後に他の職員が更新しました。最新の内容を確認してください")
    return fresh


@transaction.atomic
def approve_manually(actor: Actor, mapping: GaijiMapping, *, mj_name: str, expected_version, note: str = ""):
    """A person compared the vendor's glyph with the MJ glyph and approves the mapping."""
    _require_admin(actor)
    m = _locked(mapping, expected_version)
    rec = moji.by_mj((mj_name or "").strip().upper())
    if rec is None or not rec.text:
        raise RuleError({"mj_name": "その MJ 文字図形名は見つかりません"})
    if m.status == Status.APPROVED and m.mj_name == rec.mj:
        raise RuleError("既にこの文字で承認されています")
    _set(m, rec, Status.APPROVED, Evidence.MANUAL, actor)
    _log(actor, m, "approved", note)
    return m


@transaction.atomic
def mark_unmappable(actor: Actor, mapping: GaijiMapping, *, expected_version, note: str):
    """No MJ character fits: names using this code stay held in migration until handled by hand."""
    _require_admin(actor)
    if not (note or "").strip():
        raise RuleError({"note": "対応なしとする理由を入力してください"})
    m = _locked(mapping, expected_version)
    _set(m, None, Status.UNMAPPABLE, Evidence.NONE, actor)
    _log(actor, m, "unmappable", note)
    return m


@transaction.atomic
def reopen(actor: Actor, mapping: GaijiMapping, *, expected_version, note: str):
    """Back to 確認待ち (e.g. an approval found wrong). The history keeps the earlier decision."""
    _require_admin(actor)
    if not (note or "").strip():
        raise RuleError({"note": "差し戻す理由を入力してください"})
    m = _locked(mapping, expected_version)
    _set(m, None, Status.PROPOSED, Evidence.NONE, actor)
    m.reviewer, m.reviewed_at = None, None
    GaijiMapping.objects.filter(pk=m.pk).update(reviewer=None, reviewed_at=None)
    _log(actor, m, "reopened", note)
    return m


def assert_code_table_evidence(evidence) -> bool:
    return evidence in CODE_TABLE_EVIDENCE
