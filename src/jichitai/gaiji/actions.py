"""Writes to the 外字 registry: one function per operation, one transaction and one audit event each.

Only a code-table match (住基ネット統一文字コード or 戸籍統一文字番号 given by the vendor and found in the MJ table)
is approved automatically; everything else waits for a person to compare the glyphs and approve it.
"""
import codecs

from django.db import IntegrityError, transaction
from django.utils import timezone

from jichitai import moji
from jichitai.audit.actions import append as audit_append
from jichitai.residents.actions import Actor, ConflictError, RuleError
from jichitai.tenancy.roles import Perm, has_perm

from . import config
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


def _refuse_duplicate(ch: str, sjis: str):
    """One mapping per legacy code per municipality: a second proposal is refused, naming the existing one."""
    existing = GaijiMapping.objects.filter(pua_char=ch).first()
    if existing is not None:
        code = sjis or f"U+{ord(ch):04X}"
        raise RuleError({"code": f"外字コード {code} は既に登録されています（{existing.vendor or 'ベンダー名なし'}・"
                                 f"{Status(existing.status).label}）。同じコードの対応は団体ごとに1つだけです。"
                                 "内容を変えるときは、既存の対応を審査画面で差し戻してから承認し直してください"})


def _require_second_person(actor: Actor, m: GaijiMapping):
    """With the setting two_person_review (standard on), who proposed a mapping never decides it."""
    if m.proposed_by_id == actor.user.pk and config.two_person_review(actor.municipality):
        raise RuleError("この外字対応はあなたが登録（提案）したものです。承認・対応なしの判断は別の職員が行ってください"
                        "（外字の設定: 登録者と承認者を別の職員にする）")


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
    _refuse_duplicate(ch, sjis)
    juki = (vendor_juki_code or "").strip().upper()
    koseki = (vendor_koseki_no or "").strip()
    if juki and moji.by_juki(juki) is None:
        raise RuleError({"vendor_juki_code": "その住基ネット統一文字コードは MJ 文字情報一覧表にありません"})
    if koseki and moji.by_koseki(koseki) is None:
        raise RuleError({"vendor_koseki_no": "その戸籍統一文字番号は MJ 文字情報一覧表にありません"})
    try:
        with transaction.atomic():
            m = GaijiMapping.objects.create(pua_char=ch, sjis_code=sjis, vendor=vendor, glyph_png=glyph_png or None,
                                            vendor_juki_code=juki, vendor_koseki_no=koseki,
                                            vendor_note=(vendor_note or "").strip(), proposed_by=actor.user)
    except IntegrityError:  # registered by someone else in between (the database's one-per-code constraint)
        _refuse_duplicate(ch, sjis)
        raise
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
    _require_second_person(actor, m)
    rec = moji.by_mj((mj_name or "").strip().upper())
    if rec is None or not rec.text:
        raise RuleError({"mj_name": "その MJ 文字図形名は見つかりません"})
    if m.status == Status.APPROVED and m.mj_name == rec.mj:
        raise RuleError("既にこの文字で承認されています")
    # the evidence says what was checked: a glyph comparison only when the vendor supplied a glyph
    _set(m, rec, Status.APPROVED, Evidence.MANUAL if m.glyph_png else Evidence.MANUAL_NO_GLYPH, actor)
    _log(actor, m, "approved", note)
    return m


@transaction.atomic
def mark_unmappable(actor: Actor, mapping: GaijiMapping, *, expected_version, note: str):
    """No MJ character fits: names using this code stay held in migration until handled by hand."""
    _require_admin(actor)
    if not (note or "").strip():
        raise RuleError({"note": "対応なしとする理由を入力してください"})
    m = _locked(mapping, expected_version)
    _require_second_person(actor, m)
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


# ---------------------------------------------------------------------- a vendor's 外字対応表 (table import)

TABLE_COLUMNS = {
    "vendor_code": ("vendor_code", "ベンダーコード", "外字コード", "code"),
    "mj_name": ("mj_name", "MJ文字図形名", "MJ図形名", "mj"),
    "ucs": ("ucs", "UCS", "ucs_ivs"),
    "char": ("char", "文字"),
    "note": ("note", "備考", "説明"),
    "glyph_png_base64": ("glyph_png_base64", "字形画像", "glyph"),
}


class TableError(RuleError):
    """The table cannot be read or has invalid rows: nothing is registered; every problem has its line."""


def parse_vendor_table(data: bytes) -> list[dict]:
    """A vendor's 外字対応表 (CSV, UTF-8 with or without BOM, or CP932): one row per vendor code with MJ文字図形名,
    UCS (with IVS, as U+XXXX U+E01XX), the character, notes and optionally the glyph (PNG, base64). Returns the rows
    (with their line numbers) or raises TableError listing every bad line."""
    import base64
    import binascii
    import csv
    import io

    for enc in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError("外字対応表の文字コードが UTF-8 でも CP932 でもありません")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise TableError("外字対応表が空です")
    index = {}
    for col, names in TABLE_COLUMNS.items():
        for i, h in enumerate(header):
            if h.strip() in names:
                index[col] = i
    if "vendor_code" not in index:
        raise TableError("外字対応表の1行目に vendor_code（ベンダーコード）の列がありません")
    rows, errors, seen = [], [], {}
    for line, rec in enumerate(reader, start=2):
        if not any(x.strip() for x in rec):
            continue
        get = lambda c: rec[index[c]].strip() if c in index and index[c] < len(rec) else ""  # noqa: E731
        row = {c: get(c) for c in TABLE_COLUMNS}
        row["line"] = line
        try:
            row["pua"], row["sjis"] = parse_legacy_code(row["vendor_code"])
        except RuleError as e:
            errors.append(f"{line}行目: {' '.join(m for ms in e.errors.values() for m in ms)}")
            continue
        if row["pua"] in seen:
            errors.append(f"{line}行目: コード {row['vendor_code']} が {seen[row['pua']]}行目と重複しています")
            continue
        seen[row["pua"]] = line
        if row["ucs"]:
            try:
                row["ucs_text"] = "".join(chr(int(p[2:] if p.upper().startswith("U+") else p, 16))
                                          for p in row["ucs"].replace("_", " ").split())
            except (ValueError, OverflowError):
                errors.append(f"{line}行目: UCS「{row['ucs']}」が読めません（例: U+9089 U+E010F）")
                continue
        else:
            row["ucs_text"] = ""
        row["glyph"] = None
        if row["glyph_png_base64"]:
            try:
                png = base64.b64decode(row["glyph_png_base64"], validate=True)
            except (binascii.Error, ValueError):
                errors.append(f"{line}行目: 字形画像の base64 が読めません")
                continue
            if not png.startswith(PNG_MAGIC) or len(png) > MAX_GLYPH_BYTES:
                errors.append(f"{line}行目: 字形画像は 256KB までの PNG にしてください")
                continue
            row["glyph"] = png
        rows.append(row)
    if errors:
        raise TableError({"table": errors})
    return rows


def _table_verdict(row):
    """What the table row proves, checked against the MJ table: (record, evidence or None, explanation)."""
    mj = row["mj_name"].upper()
    rec = moji.by_mj(mj) if mj else None
    by_text = moji.by_ucs(row["ucs_text"]) if row["ucs_text"] else None
    if mj and rec is None:
        return None, None, f"MJ文字図形名 {mj} は MJ 文字情報一覧表にありません"
    if rec is not None and row["ucs_text"]:
        if row["ucs_text"] in {rec.text, rec.ivs, rec.ucs} - {None} and (not row["char"] or row["char"] in
                                                                          {row["ucs_text"], rec.text, rec.ucs}):
            return rec, Evidence.VENDOR_TABLE, f"{rec.mj} と UCS が一致"
        return rec, None, (f"MJ文字図形名 {rec.mj} の UCS は {' '.join(f'U+{ord(c):04X}' for c in rec.text)} です"
                           f"（対応表は {row['ucs']}）。字形を確認してください")
    if rec is not None:
        return rec, None, f"{rec.mj} のみ（UCS なし）。字形を確認してください"
    if by_text is not None:
        return by_text, None, f"UCS から候補 {by_text.mj}（MJ文字図形名なし）。字形を確認してください"
    return None, None, "対応表に MJ文字図形名・UCS がありません。字形を確認してください"


@transaction.atomic
def import_vendor_table(actor: Actor, *, vendor: str, data: bytes, source: str = "") -> dict:
    """Load a vendor's 外字対応表 as proposals into the registry, in one transaction with one audit event. A row is
    approved automatically only when its MJ文字図形名 exists in the MJ table and its UCS (IVS included) is that
    record's (code-table evidence, Evidence.VENDOR_TABLE); every other row stays 確認待ち with the vendor's claim and
    what disagreed in its note, for a person to compare glyphs. Codes already registered for the vendor are left as
    they are (reported). Returns the counts and the per-row outcome."""
    _require_admin(actor)
    vendor = (vendor or "").strip()
    if not vendor:
        raise RuleError({"vendor": "ベンダー・システム名を入力してください"})
    rows = parse_vendor_table(data)
    known = set(GaijiMapping.objects.values_list("pua_char", flat=True))  # one mapping per code per municipality
    now = timezone.now()
    out = {"approved": [], "proposed": [], "skipped": [], "rows": []}
    for row in rows:
        code = row["sjis"] or f"U+{ord(row['pua']):04X}"
        if row["pua"] in known:
            out["skipped"].append(code)
            out["rows"].append({"line": row["line"], "code": code, "outcome": "skipped",
                                "note": "既に登録済み（変更していません）"})
            continue
        rec, evidence, why = _table_verdict(row)
        claim = " ".join(x for x in (row["mj_name"], row["ucs"], row["char"], row["note"]) if x)
        m = GaijiMapping.objects.create(pua_char=row["pua"], sjis_code=row["sjis"], vendor=vendor,
                                        glyph_png=row["glyph"], vendor_note=f"対応表: {claim}"[:200],
                                        mj_name=rec.mj if rec is not None else "", proposed_by=actor.user)
        GaijiMappingEvent.objects.create(mapping=m, action="table_imported", at=now, actor=actor.user.username,
                                         snapshot=_snapshot(m), note=f"{source} {row['line']}行目: {why}"[:200])
        if evidence is not None:
            _set(m, rec, Status.APPROVED, evidence, actor)
            GaijiMappingEvent.objects.create(mapping=m, action="auto_approved", at=now, actor=actor.user.username,
                                             snapshot=_snapshot(m), note=f"コード表一致による自動承認（{why}）")
            out["approved"].append(code)
        else:
            out["proposed"].append(code)
        out["rows"].append({"line": row["line"], "code": code, "outcome": "approved" if evidence else "proposed",
                            "glyph": bool(row["glyph"]), "note": why})
    audit_append(actor.municipality, "gaiji.table_imported", actor=actor.user, terminal=actor.terminal,
                 object_type="gaiji_table", object_id=vendor,
                 detail={"vendor": vendor, "source": source, "approved": out["approved"],
                         "proposed": out["proposed"], "skipped": out["skipped"]})
    return out


@transaction.atomic
def set_two_person_review(actor: Actor, value: bool):
    """外字の設定: whether proposal and approval must be by two different staff (standard on): the municipality's
    個別 value in the tier engine, which audits it."""
    from jichitai.platform import engine

    _require_admin(actor)
    return engine.set_value(actor.user, config.KEY_TWO_PERSON, bool(value), tier=engine.Tier.MUNICIPALITY,
                            municipality=actor.municipality, terminal=actor.terminal)
