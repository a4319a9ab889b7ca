"""Decoding, validating and mapping legacy rows: pure computation, no database (runs in worker processes).

`process_unit(ctx, unit)` takes one household's rows (or one broken row) and decides, for every row, exactly one
outcome: a person ready to insert (with search keys and the history snapshot), a rejection (line, byte offset,
field, reason in Japanese and English, raw bytes) or a hold (外字 not yet approved in the municipality's registry).
"""
import datetime as dt
import json
import re
import unicodedata
from json.encoder import encode_basestring

from jichitai import moji
from jichitai.common.checkdigits import (validate_individual_number, validate_resident_code,
                                         verify_resident_code_check_digit)
from jichitai.common.wareki import DateInputError, parse_date
from jichitai.moji.kana import name_key
from jichitai.residents.actions import address_key
from jichitai.residents.models import CHANGE_GROUP, SNAPSHOT_FIELDS, ChangeKind, Person

from .layout import DATE_TYPES, HEAD

_PUA = re.compile("[\ue000-\uf8ff]")
_CTRL = re.compile("[\x00-\x1f\x7f]")
_HWK = re.compile("[\uff61-\uff9f]")
_KANA = re.compile("^[\u30a0-\u30ff\u3000 ]*$")
_DIGITS = re.compile("^[0-9]+$")
_SPLIT = re.compile("[ \u3000]+")
_FULLWIDTH = re.compile("[^\x20-\x7e\uff61-\uff9f]")  # anything but ASCII and half-width katakana
REMOVAL_REASON = {ChangeKind.MOVE_OUT_PLANNED: "転出", ChangeKind.MOVE_OUT_CONFIRMED: "転出",
                  ChangeKind.DEATH: "死亡", ChangeKind.EX_OFFICIO_REMOVAL: "職権消除"}
ATENA_MARK, HHNO_MARK = "\x00A", "\x00H"
ATENA_JSON, HHNO_JSON = json.dumps(ATENA_MARK), json.dumps(HHNO_MARK)
MIGRATION_NOTE = "移行"
# by plain value (a TextChoices member hashes by its name, so a dict keyed by members misses a plain string)
_GROUP = {k.value: CHANGE_GROUP.get(k) for k in ChangeKind}
_REMOVAL_REASON = {k.value: r for k, r in REMOVAL_REASON.items()}


def _group(kind):
    """CHANGE_GROUP.get(ChangeKind(kind)), without building the enum member (an unknown kind raises as before)."""
    try:
        return _GROUP[kind]
    except KeyError:
        return CHANGE_GROUP.get(ChangeKind(kind))

_MAXLEN = {f.attname: f.max_length for f in Person._meta.concrete_fields if getattr(f, "max_length", None)}
_PERSON_FIELDS = list(Person._meta.concrete_fields)
ATTNAMES = [f.attname for f in _PERSON_FIELDS]
IDX = {a: i for i, a in enumerate(ATTNAMES)}
_DEFAULTS = {f.attname: f.get_default() for f in _PERSON_FIELDS}
_DATE_ATTS = [a for a in ATTNAMES if Person._meta.get_field(a.removesuffix("_id")).get_internal_type() == "DateField"]
_DATE_IDX = [IDX[a] for a in _DATE_ATTS]
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


EXTRAS, CODES, WARN = "\x00x", "\x00c", "\x00w"  # keys in a row's values: extra attributes, raw codes, warnings


_FIELD_CACHE_MAX = 50_000  # distinct raw values remembered per field (names, addresses, dates, codes repeat)


def _field(ctx, f, raw):
    """One field's verdict from its raw bytes, a pure function of (layout field, bytes, approved 外字): (where the
    value goes: 0 values / 1 extras / 2 nowhere, value, error or None, pending pua chars, mapped evidences, era
    warning or None, the vendor's original code or None). At most one error per field."""
    gaiji = ctx.gaiji
    try:
        # ASCII bytes decode the same in cp932; the ASCII codec is ≈ 6× cheaper per call than cp932's
        s = raw.decode("ascii") if raw.isascii() else raw.decode("cp932")
    except UnicodeDecodeError:
        return (2, None, E(f.name, f.offset, "encoding", "cp932（Shift_JIS）として読めないバイト列があります",
                           "bytes that are not valid cp932 (Shift_JIS)"), (), (), None, None)
    t = f.type
    if f.halfwidth_only and _FULLWIDTH.search(s):
        bad = _FULLWIDTH.search(s).group()
        return (2, None, E(f.name, f.offset, "fullwidth", f"半角だけの項目に全角文字「{_safe(bad)}」が含まれています",
                           f"a half-width-only field contains the full-width character {bad!r}"), (), (), None, None)
    if f.extra:
        s = s.strip(" \u3000")
        if _CTRL.search(s):
            return (2, None, E(f.name, f.offset, "control", "制御文字が含まれています", "contains control characters"),
                    (), (), None, None)
        if t in DATE_TYPES and s.strip("0"):
            try:
                s = parse_date(s).isoformat()
            except DateInputError as e:
                ja, en = _date_msg(e)
                return (2, None, E(f.name, f.offset, "date", ja, en), (), (), None, None)
        elif t == "number" and s and not _DIGITS.match(s):
            return (2, None, E(f.name, f.offset, "number", "数字以外の文字が含まれています", "not a number"),
                    (), (), None, None)
        return (1, s, None, (), (), None, None)
    pending, mapped, warn, code = (), (), None, None
    where, value, error = 0, None, None
    if t == "text":
        s = s.strip(" \u3000")
        if _CTRL.search(s):
            return (2, None, E(f.name, f.offset, "control", "制御文字が含まれています", "contains control characters"),
                    (), (), None, None)
        if not f.allow_halfwidth_kana and _HWK.search(s):
            return (2, None, E(f.name, f.offset, "halfwidth_kana", "半角カナが含まれています（文字コードの誤りの可能性）",
                               "contains half-width kana (wrong encoding?)"), (), (), None, None)
        if _PUA.search(s):
            out, pend, mapd = [], [], []
            for ch in s:
                if "\ue000" <= ch <= "\uf8ff":
                    hit = gaiji.get(ch)
                    if hit is None:
                        pend.append(ch)
                        out.append(ch)
                    else:
                        mapd.append(hit[1])
                        out.append(hit[0])
                else:
                    out.append(ch)
            s = "".join(out)
            pending, mapped = tuple(pend), tuple(mapd)
        value = s
    elif t == "kana":
        s = unicodedata.normalize("NFKC", s).strip(" \u3000")
        if not _KANA.match(s):
            return (2, None, E(f.name, f.offset, "kana", "フリガナにカナ以外の文字が含まれています",
                               "the reading contains characters other than kana"), (), (), None, None)
        value = s
    elif t in DATE_TYPES:
        s = s.strip(" \u3000")
        if not s.strip("0"):
            return (0, None, None, (), (), None, None)  # empty: no required check (as before)
        if t == "seireki" and not s[:4].isdigit():
            return (2, None, E(f.name, f.offset, "date", f"「{s}」は西暦の日付ではありません",
                               f"{s!r} is not a Western-calendar date"), (), (), None, None)
        if t == "wareki" and s[:4].isdigit() and len(s) == 8:
            return (2, None, E(f.name, f.offset, "date", f"「{s}」は和暦の日付ではありません",
                               f"{s!r} is not a Japanese-era date"), (), (), None, None)
        over = [] if f.era_overflow else None
        try:
            value = parse_date(s, over)
        except DateInputError as e:
            ja, en = _date_msg(e)
            return (2, None, E(f.name, f.offset, "date", ja, en), (), (), None, None)
        if over:
            ja, _, en = over[0].partition(" / ")
            warn = E(f.name, f.offset, "era_overflow", ja, en)
    elif t == "number":
        s = s.strip(" \u3000")
        if s and not _DIGITS.match(s):
            return (2, None, E(f.name, f.offset, "number", "数字以外の文字が含まれています", "not a number"),
                    (), (), None, None)
        value = s
    elif t == "code":
        s = s.strip(" \u3000")
        if not s:
            return (0, None, None, (), (), None, None)  # empty: no required check (as before)
        v = f.codes.get(s)
        if v is None:
            return (2, None, E(f.name, f.offset, "code", f"コード「{_safe(s)}」はコード表 {f.code_list} にありません",
                               f"code {_safe(s)!r} is not in the code list {f.code_list}"), (), (), None, None)
        value, code = v, s
    elif t == "flag":
        s = s.strip(" \u3000")
        if s in f.true_values:
            value = True
        elif s in f.false_values:
            value = False
        else:
            where, error = 2, E(f.name, f.offset, "flag", f"フラグの値「{s}」が不正です", f"invalid flag value {s!r}")
    else:
        where = 2  # (a type the layout check refuses)
    if error is None and f.required and value in (None, ""):
        error = E(f.name, f.offset, "required", "必須の項目が空です", "required field is empty")
    return (where, value, error, pending, mapped, warn, code)


def _plan(ctx, layout):
    """Per record type: (name, offset, end, field, cache) of each field, made once per context."""
    plans = ctx.__dict__.setdefault("_plans", {})
    p = plans.get(id(layout))
    if p is None:
        p = plans[id(layout)] = (layout, [(f.name, f.offset, f.end, f, {}) for f in layout.fields])
    return p[1]


def parse_record(ctx, line: bytes, rt=None):
    """Cut and check one record of the right length. Returns (values, errors, pending pua chars, mapped evidences).
    v2: `rt` is the record type (its own fields); values[EXTRAS] the extra attributes, values[CODES] the vendor's
    original codes, values[WARN] row-level warnings (era overflow). Each field's verdict is a pure function of its
    bytes (`_field`), remembered per field: legacy files repeat names, addresses, dates and codes a great deal."""
    values, errors, pending, mapped = {}, [], [], []
    extras, codes, warns = {}, {}, []
    for name, o, e, f, cache in _plan(ctx, rt or ctx.layout):
        raw = line[o:e]
        hit = cache.get(raw)
        if hit is None:
            hit = _field(ctx, f, raw)
            if len(cache) < _FIELD_CACHE_MAX:
                cache[raw] = hit
        where, value, error, pend, mapd, warn, code = hit
        if where == 0:
            values[name] = value
        elif where == 1:
            extras[name] = value
        if error is not None:
            errors.append(error)
        if pend:
            pending.extend(pend)
        if mapd:
            mapped.extend(mapd)
        if warn is not None:
            warns.append(warn)
        if code is not None:
            codes[name] = code
    if rt is not None:
        values[EXTRAS], values[CODES], values[WARN] = extras, codes, warns
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
            memo = ctx.__dict__.setdefault("_rc", {})  # a person's generations repeat the code
            verdict = memo.get(rc, False)
            if verdict is False:
                verdict = None
                try:
                    validate_resident_code(rc)
                    if ctx.layout.resident_code_check_digit:
                        verify_resident_code_check_digit(rc)
                except ValueError as e:
                    verdict = _date_msg(e)
                if len(memo) > 100_000:
                    memo.clear()
                memo[rc] = verdict
            if verdict is not None:
                errors.append(E("resident_code", off("resident_code"), "rule", *verdict))
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


_SNAP_PREFIX = [("{" if i == 0 else ", ") + encode_basestring(f) + ": " for i, f in enumerate(SNAPSHOT_FIELDS)]
_SNAP_PLAN = [(p, f, f in _SNAP_DATES) for p, f in zip(_SNAP_PREFIX, SNAPSHOT_FIELDS)]
_JSON_CONST = {None: "null", True: "true", False: "false"}


def _snapshot_json(state):
    """_json({f: state[f] for f in SNAPSHOT_FIELDS}, dates as ISO text): the same text, written field by field
    without building the dict (tests/test_migration_speed.py compares the two)."""
    parts = []
    add = parts.append
    enc = encode_basestring
    for prefix, f, is_date in _SNAP_PLAN:
        v = state[f]
        add(prefix)
        if is_date and v is not None:
            v = v.isoformat()
        if v.__class__ is str:
            add(enc(v))
        elif v is None or v is True or v is False:
            add(_JSON_CONST[v])
        else:
            add(_json(v))
    add("}")
    return "".join(parts)


def _search_keys(ctx, state):
    """residents.actions.search_keys, its parts remembered per context: the written name, the reading and the
    address each repeat across a file far more often than the whole person does (tests/test_migration_speed.py
    compares the two on varied rows)."""
    memo = ctx.__dict__.setdefault("_keys", ({}, {}, {}))
    names, kanas, addrs = memo
    fam, giv = state["family_name"], state["given_name"]
    n = names.get((fam, giv))
    if n is None:
        n = moji.name_keys(name_key(fam + giv)) + (name_key(giv),)
        if len(names) > 200_000:
            names.clear()
        names[(fam, giv)] = n
    kt = state["family_name_kana"] + state["given_name_kana"]
    k = kanas.get(kt)
    if k is None:
        k = moji.kana_keys(kt)
        if len(kanas) > 200_000:
            kanas.clear()
        kanas[kt] = k
    addr = state["address"]
    a = addrs.get(addr)
    if a is None:
        a = address_key(addr)
        if len(addrs) > 200_000:
            addrs.clear()
        addrs[addr] = a
    return {"name_key": n[0], "name_sel_key": n[1], "name_deg_key": n[2], "name_var_key": n[3],
            "given_key": n[4], "kana_key": k[0], "kana_loose_key": k[1], "address_key": a}


def _person(ctx, v, line_no, hk, pk, role=None, full=True):
    """The Person column values (placeholders for id, household, 宛名番号) and the snapshot JSON; full=False: an
    older generation, only its snapshot and history values (row None)."""
    v = dict(v)
    kind = v.pop("change_kind", None)
    change_date = v.pop("change_date", None)
    v.pop("atena_no", None)
    v.pop("household_no", None)
    generation = v.pop("generation", None)
    extras = v.pop(EXTRAS, None) or {}
    codes = v.pop(CODES, None) or {}
    v.pop(WARN, None)
    state = dict(_DEFAULTS)
    for k, val in v.items():
        if k in state and val is not None:
            state[k] = val
    for k in ("became_resident_date", "address_date", "notification_date", "stay_expiry", "move_in_notice_date"):
        state[k] = v.get(k)
    removed = role == "removed" or (kind is not None and _group(kind) == "消除")
    when = change_date or state["address_date"] or state["became_resident_date"] or state["birth_date"]
    if removed:
        state["status"] = "removed"
        state["removal_reason"] = _REMOVAL_REASON.get(kind, "") if kind in _GROUP else REMOVAL_REASON.get(
            ChangeKind(kind), "")
        state["removal_date"] = when
        if kind in (ChangeKind.MOVE_OUT_PLANNED, ChangeKind.MOVE_OUT_CONFIRMED):
            state["move_out_state"] = "予定" if kind == ChangeKind.MOVE_OUT_PLANNED else "確定"
    state["is_head"] = state["relationship"] == HEAD and not removed
    state["version"] = 1
    state["last_change_date"] = when
    state["atena_no"] = ATENA_MARK
    state["household_no"] = HHNO_MARK
    snap_json = _snapshot_json(state)
    row = None
    if full:  # the person's current state (an older generation is only a history row)
        state.update(_search_keys(ctx, state))
        row = [state.get(a) for a in ATTNAMES]
        if not ctx.pg:
            for i in _DATE_IDX:
                if row[i] is not None:
                    row[i] = row[i].isoformat()
    notif = state["notification_date"]
    if ctx.layout.version == 1:
        hist_kind = ChangeKind.MOVE_IN.value if kind == ChangeKind.MOVE_IN else ChangeKind.EX_OFFICIO_ENTRY.value
        legacy = ChangeKind(kind).label if kind else "—"
        note = (f"{MIGRATION_NOTE}（{ctx.vendor} 旧宛名番号 {pk} 旧世帯番号 {hk} 行 {line_no}"
                f" 旧システムの最終異動 {legacy} {change_date.isoformat() if change_date else ''}）")[:200]
    else:
        # v2: each generation is a history row with its own 異動事由; the vendor's original codes stay beside the
        # mapped values (旧コード field=code), since several vendor codes may map to one of ours
        hist_kind = kind or ChangeKind.EX_OFFICIO_ENTRY.value
        orig = " ".join(f"{k}={c}" for k, c in sorted(codes.items()))
        note = (f"{MIGRATION_NOTE}（{ctx.vendor} 旧宛名番号 {pk} 旧世帯番号 {hk} 行 {line_no}"
                f" 履歴番号 {generation or '—'} 旧コード {orig or '—'}）")[:200]
    return {"row": row, "snap": snap_json, "is_head": state["is_head"], "removed": removed,
            "hist": (hist_kind, when, notif, note), "extras": extras}



def outcome(line_no, offset, raw, kind, errors, hk, pending=""):
    """A row that is not imported: (line, offset, outcome, code, field, field offset, ja, en, errors, pending,
    household key, raw bytes). The first error is the row's reason; all errors are kept."""
    f, foff, code, ja, en = errors[0]
    return (line_no, offset, kind, code, f or "", foff, _safe(ja), _safe(en),
            json.dumps([list(e) for e in errors], ensure_ascii=True), pending, _safe(hk or ""), raw)


def _safe(text):
    """Control characters (NUL …) from a broken record never reach a text column: shown as \\xNN."""
    return _CTRL.sub(lambda m_: f"\\x{ord(m_.group()):02x}", text) if _CTRL.search(text) else text


STRUCTURAL = {"duplicate_resident_code", "duplicate_person_key", "duplicate_conflict"}


def _gen(v):
    g = v.get("generation") if v else None
    return int(g) if g and str(g).isdigit() else 0


def process_unit(ctx, unit, household_exists=False):
    """unit = (household key, [(line_no, offset, raw, pre_errors[, pre_warnings])]). Returns a result dict.

    The rules, in this order: line-level rejects (scan: length, record type, keys; here: every field and the
    register's rules); duplicates (scan: an identical repeat is kept once, a conflicting one rejected, the first kept
    with a warning); a person's generations (履歴番号): the newest valid one is the current state, every valid one a
    history row, an invalid one rejected on its own line; then the household rule on the current states (a head
    whose newest generation is broken falls back to its newest valid one before anyone is rejected); every row
    affected gets its own outcome."""
    hk, lines = unit
    layout = ctx.layout
    res = {"hk": hk, "persons": [], "outcomes": [], "field_errors": {}, "mapped": {}, "checked": 0,
           "household_exists": household_exists, "warnings": [], "lines_imported": 0}
    parsed = []
    for entry in lines:
        line_no, offset, raw, pre = entry[:4]
        pre_warn = entry[4] if len(entry) > 4 else []
        if any(e[2] == "duplicate_identical" for e in pre):
            res["outcomes"].append(outcome(line_no, offset, raw, "duplicate", pre, hk))
            continue
        errors = list(pre)
        v, pending, mapped = None, [], []
        rt = _type_of(ctx, raw) if layout.version == 2 else None
        if not errors or all(e[2] in STRUCTURAL for e in errors):
            v, errs, pending, mapped = parse_record(ctx, raw, rt)
            res["checked"] += 1
            structural = errors
            errors = errs
            fields = (rt or layout).by_name
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
            if not errors:
                for w in v.get(WARN) or []:
                    res["warnings"].append(_warning(line_no, offset, w))
        for w in pre_warn:
            res["warnings"].append(_warning(line_no, offset, w))
        parsed.append({"line_no": line_no, "offset": offset, "raw": raw, "errors": errors, "v": v,
                       "pending": pending, "mapped": mapped, "role": rt.role if rt is not None else None})
    # a person's generations (v2 with a generation key); v1: every row is a person of its own
    persons = {}
    for p in parsed:
        pk = (p["v"] or {}).get(layout.person_key) if layout.generation_key else None
        persons.setdefault(pk or ("line", p["line_no"]), []).append(p)
    people = []
    for rows in persons.values():
        rows.sort(key=lambda p: (_gen(p["v"]), p["line_no"]))
        valid = [p for p in rows if not p["errors"]]
        cur = valid[-1] if valid else next((p for p in reversed(rows) if p["v"] is not None), None)
        people.append({"rows": rows, "valid": valid, "cur": cur})
        newest = rows[-1]
        if valid and _gen(newest["v"]) > _gen(cur["v"]) and layout.generation_key:
            res["warnings"].append(_warning(cur["line_no"], cur["offset"], E(
                layout.generation_key, None, "generation_fallback",
                f"最新の世代（{newest['line_no']}行目、履歴番号 {_gen(newest['v']) or '—'}）が不正のため、"
                f"履歴番号 {_gen(cur['v'])} を現在の記載とします",
                f"the newest generation (line {newest['line_no']}) is invalid; generation {_gen(cur['v'])} is "
                "the current state")))

    def is_removed(person):
        c = person["cur"]
        return c is not None and (c["role"] == "removed" or _is_removed(c["v"]))

    def is_head(person):
        c = person["cur"]
        return c is not None and c["v"] is not None and c["v"].get("relationship") == HEAD and not is_removed(person)

    head, verdict = None, None
    if not household_exists and hk is not None:
        heads = [x for x in people if is_head(x)]
        residents = [x for x in people if not is_removed(x)]
        relf = ctx.layout.field("relationship")
        roff = relf.offset if relf else None
        if residents and not heads:
            verdict = E("relationship", roff, "no_head",
                        f"世帯（旧世帯番号 {hk}）に世帯主の行がありません（世帯のない世帯員）",
                        f"household {hk} has no head row (members without a household)")
        elif len(heads) > 1:
            verdict = E("relationship", roff, "multiple_heads", f"世帯（旧世帯番号 {hk}）に世帯主が {len(heads)} 人います",
                        f"household {hk} has {len(heads)} heads")
        elif heads:
            head = heads[0]
    if verdict is not None:
        for x in people:
            for p in x["rows"]:
                p["errors"].append(verdict)
            x["valid"] = []
    head_state = None
    if head is not None:
        head_state = "rejected" if not head["valid"] else (
            "held" if any(p["pending"] for p in head["valid"]) else "ok")
    relf = ctx.layout.field("relationship")
    for x in people:
        held_with_head = False
        if x is not head and x["valid"] and head is not None:
            hl = head["cur"]["line_no"]
            if head_state == "rejected":
                e = E("relationship", relf.offset, "head_rejected",
                      f"世帯主の行（{hl}行目）が取り込めないため、この世帯員も取り込めません",
                      f"the head of the household (line {hl}) was rejected")
                for p in x["valid"]:
                    p["errors"].append(e)
                x["valid"] = []
            elif head_state == "held" and not any(p["pending"] for p in x["valid"]):
                held_with_head = True
        for p in x["rows"]:
            if p["errors"]:
                res["outcomes"].append(outcome(p["line_no"], p["offset"], p["raw"], "rejected", p["errors"], hk))
        if not x["valid"]:
            continue
        if held_with_head:
            hl = head["cur"]["line_no"]
            for p in x["valid"]:
                res["outcomes"].append(outcome(p["line_no"], p["offset"], p["raw"], "held", [E(
                    "relationship", relf.offset, "head_held",
                    f"世帯主の行（{hl}行目）が外字の承認待ちのため保留します",
                    f"held with the head of the household (line {hl}), whose 外字 await approval")], hk))
            continue
        pend_all = [c for p in x["valid"] for c in p["pending"]]
        if pend_all:
            codes = sorted({sjis_of(c) for c in pend_all})
            for p in x["valid"]:
                own = " ".join(sjis_of(c) for c in p["pending"])
                res["outcomes"].append(outcome(p["line_no"], p["offset"], p["raw"], "held", [E(
                    "", None, "gaiji_pending", f"外字 {' '.join(codes)} が外字台帳で承認されていないため保留します",
                    f"held: 外字 {' '.join(codes)} not approved in the registry")], hk, own or " ".join(codes)))
            continue
        cur = x["cur"]
        pkey = cur["v"].get(layout.person_key) or ""
        person = _person(ctx, cur["v"], cur["line_no"], hk, pkey, cur["role"])
        hists = []
        for p in x["valid"]:
            if p is cur:
                hists.append((*person["hist"], None))
            else:
                g = _person(ctx, p["v"], p["line_no"], hk, pkey, p["role"], full=False)
                hists.append((*g["hist"], g["snap"]))
        person["hists"] = hists
        person["line_no"] = cur["line_no"]
        person["line_nos"] = [p["line_no"] for p in x["valid"]]
        person["person_key"] = pkey
        for p in x["valid"]:
            for ev in p["mapped"]:
                res["mapped"][ev] = res["mapped"].get(ev, 0) + 1
        res["lines_imported"] += len(x["valid"])
        res["persons"].append(person)
    res["outcomes"].sort(key=lambda o: o[0])
    return res


def _type_of(ctx, raw):
    """layout.type_of, remembered per raw record-type bytes."""
    memo = ctx.__dict__.setdefault("_types", {})
    o, ln = ctx.layout.record_type
    code = raw[o:o + ln]
    try:
        return memo[code]
    except KeyError:
        rt = memo[code] = ctx.layout.type_of(raw)
        return rt


def _warning(line_no, offset, e):
    f, foff, code, ja, en = e
    return [line_no, offset, f or "", foff, code, _safe(ja), _safe(en)]


def _is_removed(v):
    kind = v.get("change_kind")
    return kind is not None and _group(kind) == "消除"


def process_chunk(ctx, units):
    return [process_unit(ctx, u) for u in units]


def today():
    return dt.date.today()
