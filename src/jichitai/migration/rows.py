"""Decoding, validating and mapping legacy rows: pure computation, no database (runs in worker processes).

`process_unit(ctx, unit)` takes one household's rows (or one broken row) and decides, for every row, exactly one
outcome: a person ready to insert (with search keys and the history snapshot), a rejection (line, byte offset,
field, reason in Japanese and English, raw bytes) or a hold (外字 not yet approved in the municipality's registry).
"""
import datetime as dt
import json
import re
import unicodedata

from jichitai.common.checkdigits import validate_individual_number, validate_resident_code
from jichitai.common.wareki import DateInputError, parse_date
from jichitai.residents.actions import row_search_keys
from jichitai.residents.models import CHANGE_GROUP, SNAPSHOT_FIELDS, ChangeKind, Person

from .layout import DATE_TYPES, HEAD

_PUA = re.compile("[\ue000-\uf8ff]")
_CTRL = re.compile("[\x00-\x1f\x7f]")
_HWK = re.compile("[\uff61-\uff9f]")
_KANA = re.compile("^[\u30a0-\u30ff\u3000 ]*$")
_DIGITS = re.compile("^[0-9]+$")
_SPLIT = re.compile("[ \u3000]+")
REMOVAL_REASON = {ChangeKind.MOVE_OUT_PLANNED: "転出", ChangeKind.MOVE_OUT_CONFIRMED: "転出",
                  ChangeKind.DEATH: "死亡", ChangeKind.EX_OFFICIO_REMOVAL: "職権消除"}
ATENA_MARK, HHNO_MARK = "\x00A", "\x00H"
ATENA_JSON, HHNO_JSON = json.dumps(ATENA_MARK), json.dumps(HHNO_MARK)
MIGRATION_NOTE = "移行"

_MAXLEN = {f.attname: f.max_length for f in Person._meta.concrete_fields if getattr(f, "max_length", None)}
_PERSON_FIELDS = list(Person._meta.concrete_fields)
ATTNAMES = [f.attname for f in _PERSON_FIELDS]
IDX = {a: i for i, a in enumerate(ATTNAMES)}
_DEFAULTS = {f.attname: f.get_default() for f in _PERSON_FIELDS}
_DATE_ATTS = [a for a in ATTNAMES if Person._meta.get_field(a.removesuffix("_id")).get_internal_type() == "DateField"]
_SNAP_DATES = {f for f in SNAPSHOT_FIELDS if f != "household_no"
               and Person._meta.get_field(f).get_internal_type() == "DateField"}
_json = json.JSONEncoder(ensure_ascii=False).encode


class Ctx:
    """What the workers need: the layout, the approved 外字 table, codes already in the register, today."""

    def __init__(self, layout, vendor, gaiji, existing_codes, existing_keys, today, engine, pending_status):
        self.layout = layout
        self.vendor = vendor
        self.gaiji = gaiji  # pua char -> (text, evidence, sjis)
        self.existing_codes = existing_codes
        self.existing_keys = existing_keys
        self.today = today
        self.pg = engine == "postgresql"
        self.pending_status = pending_status  # pua char -> registry status of an unapproved code


def E(field, offset, code, ja, en):
    return (field, offset, code, ja, en)


def _date_msg(e):
    s = str(e)
    ja, _, en = s.partition(" / ")
    return ja, en or ja


def sjis_of(ch):
    try:
        return ch.encode("cp932").hex().upper()
    except UnicodeEncodeError:
        return f"U+{ord(ch):04X}"


_DATES = {}  # text → date or (ja, en) error: legacy files repeat the same dates a great deal


def parse_record(ctx, line: bytes):
    """Cut and check one record of the right length. Returns (values, errors, pending pua chars, mapped evidences)."""
    layout = ctx.layout
    values, errors, pending, mapped = {}, [], [], []
    gaiji = ctx.gaiji
    for f in layout.fields:
        raw = line[f.offset:f.end]
        try:
            s = raw.decode("cp932")
        except UnicodeDecodeError:
            errors.append(E(f.name, f.offset, "encoding", "cp932（Shift_JIS）として読めないバイト列があります",
                            "bytes that are not valid cp932 (Shift_JIS)"))
            continue
        t = f.type
        if t == "text":
            s = s.strip(" \u3000")
            if _CTRL.search(s):
                errors.append(E(f.name, f.offset, "control", "制御文字が含まれています", "contains control characters"))
                continue
            if not f.allow_halfwidth_kana and _HWK.search(s):
                errors.append(E(f.name, f.offset, "halfwidth_kana",
                                "半角カナが含まれています（文字コードの誤りの可能性）",
                                "contains half-width kana (wrong encoding?)"))
                continue
            if _PUA.search(s):
                out = []
                for ch in s:
                    if "\ue000" <= ch <= "\uf8ff":
                        hit = gaiji.get(ch)
                        if hit is None:
                            pending.append(ch)
                            out.append(ch)
                        else:
                            mapped.append(hit[1])
                            out.append(hit[0])
                    else:
                        out.append(ch)
                s = "".join(out)
            values[f.name] = s
        elif t == "kana":
            s = unicodedata.normalize("NFKC", s).strip(" \u3000")
            if not _KANA.match(s):
                errors.append(E(f.name, f.offset, "kana", "フリガナにカナ以外の文字が含まれています",
                                "the reading contains characters other than kana"))
                continue
            values[f.name] = s
        elif t in DATE_TYPES:
            s = s.strip(" \u3000")
            if not s.strip("0"):
                values[f.name] = None
                continue
            if t == "seireki" and not s[:4].isdigit():
                errors.append(E(f.name, f.offset, "date", f"「{s}」は西暦の日付ではありません",
                                f"{s!r} is not a Western-calendar date"))
                continue
            if t == "wareki" and s[:4].isdigit() and len(s) == 8:
                errors.append(E(f.name, f.offset, "date", f"「{s}」は和暦の日付ではありません",
                                f"{s!r} is not a Japanese-era date"))
                continue
            hit = _DATES.get(s)
            if hit is None:
                try:
                    hit = parse_date(s)
                except DateInputError as e:
                    hit = _date_msg(e)
                if len(_DATES) < 200_000:
                    _DATES[s] = hit
            if isinstance(hit, tuple):
                errors.append(E(f.name, f.offset, "date", hit[0], hit[1]))
            else:
                values[f.name] = hit
        elif t == "number":
            s = s.strip(" \u3000")
            if s and not _DIGITS.match(s):
                errors.append(E(f.name, f.offset, "number", "数字以外の文字が含まれています", "not a number"))
                continue
            values[f.name] = s
        elif t == "code":
            s = s.strip(" \u3000")
            if not s:
                values[f.name] = None
                continue
            v = f.codes.get(s)
            if v is None:
                errors.append(E(f.name, f.offset, "code", f"コード「{s}」はコード表 {f.code_list} にありません",
                                f"code {s!r} is not in the code list {f.code_list}"))
                continue
            values[f.name] = v
        elif t == "flag":
            s = s.strip(" \u3000")
            if s in f.true_values:
                values[f.name] = True
            elif s in f.false_values:
                values[f.name] = False
            else:
                errors.append(E(f.name, f.offset, "flag", f"フラグの値「{s}」が不正です", f"invalid flag value {s!r}"))
        if f.required and values.get(f.name) in (None, "") and not any(e[0] == f.name for e in errors):
            errors.append(E(f.name, f.offset, "required", "必須の項目が空です", "required field is empty"))
    return values, errors, pending, mapped


def _rules(ctx, v, errors, fields):
    """The register's rules (residents.actions._validate_person_fields), with bilingual messages."""
    def off(name):
        f = fields.get(name)
        return f.offset if f else None

    if "full_name" in v:
        parts = _SPLIT.split(v.pop("full_name") or "", maxsplit=1)
        v["family_name"], v["given_name"] = parts[0], (parts[1] if len(parts) > 1 else "")
    if "full_name_kana" in v:
        parts = _SPLIT.split(v.pop("full_name_kana") or "", maxsplit=1)
        v["family_name_kana"], v["given_name_kana"] = parts[0], (parts[1] if len(parts) > 1 else "")
    failed = {e[0] for e in errors}
    if not v.get("family_name") and not failed & {"family_name", "full_name"}:
        errors.append(E("family_name", off("family_name") or off("full_name"), "rule", "氏がありません",
                        "the family name is empty"))
    bd = v.get("birth_date")
    if "birth_date" not in failed:
        if bd is None:
            errors.append(E("birth_date", off("birth_date"), "rule", "生年月日がありません", "no date of birth"))
        elif bd > ctx.today:
            errors.append(E("birth_date", off("birth_date"), "rule", "生年月日が未来の日付です",
                            "the date of birth is in the future"))
    if v.get("sex") not in ("1", "2") and "sex" not in failed:
        errors.append(E("sex", off("sex"), "rule", "性別がありません", "no sex given"))
    if not v.get("address") and "address" not in failed:
        errors.append(E("address", off("address"), "rule", "住所がありません", "the address is empty"))
    if not v.get("relationship") and "relationship" not in failed:
        errors.append(E("relationship", off("relationship"), "rule", "続柄がありません", "no relationship given"))
    if v.get("individual_number") and "individual_number" not in failed:
        try:
            v["individual_number"] = validate_individual_number(v["individual_number"])
        except ValueError as e:
            ja, en = _date_msg(e)
            errors.append(E("individual_number", off("individual_number"), "rule", ja, en))
    rc = v.get("resident_code")
    if "resident_code" not in failed:
        if not rc:
            errors.append(E("resident_code", off("resident_code"), "rule", "住民票コードがありません",
                            "no resident code"))
        else:
            try:
                validate_resident_code(rc)
            except ValueError as e:
                ja, en = _date_msg(e)
                errors.append(E("resident_code", off("resident_code"), "rule", ja, en))
    if v.get("is_foreign") and not v.get("nationality") and "nationality" not in failed:
        errors.append(E("nationality", off("nationality"), "rule", "外国人住民の国籍・地域がありません",
                        "a foreign resident needs a nationality"))
    cd = v.get("change_date")
    if bd and cd and bd > cd and "change_date" not in failed:
        errors.append(E("change_date", off("change_date"), "rule", "異動日が生年月日より前です",
                        "the change date is before the date of birth"))
    if cd and cd > ctx.today and "change_date" not in failed:
        errors.append(E("change_date", off("change_date"), "rule", "異動日が未来の日付です",
                        "the change date is in the future"))
    for name, value in v.items():
        mx = _MAXLEN.get(name)
        if mx and isinstance(value, str) and len(value) > mx:
            errors.append(E(name, off(name), "too_long", f"長すぎます（{len(value)}文字、上限{mx}文字）",
                            f"too long ({len(value)} characters, at most {mx})"))


def _person(ctx, v, line_no, hk, pk):
    """The Person column values (placeholders for id, household, 宛名番号) and the snapshot JSON."""
    kind = v.pop("change_kind", None)
    change_date = v.pop("change_date", None)
    v.pop("atena_no", None)
    v.pop("household_no", None)
    state = dict(_DEFAULTS)
    for k, val in v.items():
        if k in state and val is not None:
            state[k] = val
    for k in ("became_resident_date", "address_date", "notification_date", "stay_expiry", "move_in_notice_date"):
        state[k] = v.get(k)
    removed = kind is not None and CHANGE_GROUP.get(ChangeKind(kind)) == "消除"
    when = change_date or state["address_date"] or state["became_resident_date"] or state["birth_date"]
    if removed:
        state["status"] = "removed"
        state["removal_reason"] = REMOVAL_REASON.get(ChangeKind(kind), "")
        state["removal_date"] = when
        if kind in (ChangeKind.MOVE_OUT_PLANNED, ChangeKind.MOVE_OUT_CONFIRMED):
            state["move_out_state"] = "予定" if kind == ChangeKind.MOVE_OUT_PLANNED else "確定"
    state["is_head"] = state["relationship"] == HEAD and not removed
    state["version"] = 1
    state["last_change_date"] = when
    state.update(row_search_keys(state))
    state["atena_no"] = ATENA_MARK
    state["household_no"] = HHNO_MARK
    snap = {f: state[f] for f in SNAPSHOT_FIELDS}
    for f in _SNAP_DATES:
        if snap[f] is not None:
            snap[f] = snap[f].isoformat()
    snap_json = _json(snap)
    row = [state.get(a) for a in ATTNAMES]
    if not ctx.pg:
        for a in _DATE_ATTS:
            i = IDX[a]
            if row[i] is not None:
                row[i] = row[i].isoformat()
    hist_kind = ChangeKind.MOVE_IN.value if kind == ChangeKind.MOVE_IN else ChangeKind.EX_OFFICIO_ENTRY.value
    legacy = ChangeKind(kind).label if kind else "—"
    note = (f"{MIGRATION_NOTE}（{ctx.vendor} 旧宛名番号 {pk} 旧世帯番号 {hk} 行 {line_no}"
            f" 旧システムの最終異動 {legacy} {change_date.isoformat() if change_date else ''}）")[:200]
    notif = state["notification_date"]
    return {"row": row, "snap": snap_json, "is_head": state["is_head"], "removed": removed,
            "hist": (hist_kind, when, notif, note)}



def outcome(line_no, offset, raw, kind, errors, hk, pending=""):
    """A row that is not imported: (line, offset, outcome, code, field, field offset, ja, en, errors, pending,
    household key, raw bytes). The first error is the row's reason; all errors are kept."""
    f, foff, code, ja, en = errors[0]
    return (line_no, offset, kind, code, f or "", foff, _safe(ja), _safe(en),
            json.dumps([list(e) for e in errors], ensure_ascii=True), pending, _safe(hk or ""), raw)


def _safe(text):
    """Control characters (NUL …) from a broken record never reach a text column: shown as \\xNN."""
    return _CTRL.sub(lambda m_: f"\\x{ord(m_.group()):02x}", text) if _CTRL.search(text) else text


def process_unit(ctx, unit, household_exists=False):
    """unit = (household key, [(line_no, offset, raw, pre_errors)]). Returns a result dict (see importer)."""
    hk, lines = unit
    layout = ctx.layout
    fields = layout.by_name
    res = {"hk": hk, "persons": [], "outcomes": [], "field_errors": {}, "mapped": {}, "checked": 0,
           "household_exists": household_exists}
    parsed = []
    for line_no, offset, raw, pre in lines:
        errors = list(pre)
        v, pending, mapped = None, [], []
        if not errors or all(e[2] in ("no_head", "multiple_heads", "duplicate_resident_code",
                                      "duplicate_person_key") for e in errors):
            v, errs, pending, mapped = parse_record(ctx, raw)
            res["checked"] += 1
            structural = errors
            errors = errs
            _rules(ctx, v, errors, fields)
            for e in errors:
                d = res["field_errors"].setdefault(e[0], {})
                d[e[2]] = d.get(e[2], 0) + 1
            pk = (v.get(layout.person_key) or "").strip() if isinstance(v.get(layout.person_key), str) else ""
            if pk and pk in ctx.existing_keys:
                errors.append(E(layout.person_key, fields[layout.person_key].offset, "already_migrated",
                                "この旧宛名番号は別の移行で既に取り込まれています",
                                "this legacy person key was already imported by another migration"))
            rc = v.get("resident_code")
            if rc and rc in ctx.existing_codes:
                errors.append(E("resident_code", fields["resident_code"].offset, "existing_resident_code",
                                "この住民票コードは既に登録済みの住民に記載されています（重複）",
                                "this resident code already belongs to a registered resident"))
            errors = errors + structural
        parsed.append([line_no, offset, raw, errors, v, pending, mapped])
    # household structure: the head decides for the members
    head = None
    if not household_exists and hk is not None:
        heads = [p for p in parsed if p[4] is not None and p[4].get("relationship") == HEAD
                 and not _is_removed(p[4])]
        head = heads[0] if len(heads) == 1 else None
    head_state = None
    if head is not None:
        head_state = "rejected" if head[3] else ("held" if head[5] else "ok")
    for p in parsed:
        line_no, offset, raw, errors, v, pending, mapped = p
        if not errors and v is not None and not household_exists and hk is not None and p is not head:
            if head_state == "rejected":
                errors.append(E("relationship", fields["relationship"].offset, "head_rejected",
                                f"世帯主の行（{head[0]}行目）が取り込めないため、この世帯員も取り込めません",
                                f"the head of the household (line {head[0]}) was rejected"))
            elif head_state == "held" and not pending:
                res["outcomes"].append(outcome(line_no, offset, raw, "held", [E(
                    "relationship", fields["relationship"].offset, "head_held",
                    f"世帯主の行（{head[0]}行目）が外字の承認待ちのため保留します",
                    f"held with the head of the household (line {head[0]}), whose 外字 await approval")], hk))
                continue
        if errors:
            res["outcomes"].append(outcome(line_no, offset, raw, "rejected", errors, hk))
            continue
        if pending:
            codes = sorted({sjis_of(c) for c in pending})
            res["outcomes"].append(outcome(line_no, offset, raw, "held", [E(
                "", None, "gaiji_pending", f"外字 {' '.join(codes)} が外字台帳で承認されていないため保留します",
                f"held: 外字 {' '.join(codes)} not approved in the registry")], hk,
                " ".join(f"{sjis_of(c)}" for c in pending)))
            continue
        pkey = v.get(layout.person_key) or ""
        person = _person(ctx, v, line_no, hk, pkey)
        person["line_no"] = line_no
        person["person_key"] = pkey
        for ev in mapped:
            res["mapped"][ev] = res["mapped"].get(ev, 0) + 1
        res["persons"].append(person)
    return res


def _is_removed(v):
    kind = v.get("change_kind")
    return kind is not None and CHANGE_GROUP.get(ChangeKind(kind)) == "消除"


def process_chunk(ctx, units):
    return [process_unit(ctx, u) for u in units]


def today():
    return dt.date.today()
