"""Layout definition files: how a legacy vendor's fixed-width CP932 record is cut into fields (docs/legacy-migration.md).

A layout is TOML (or JSON with the same structure). `load_layout(path)` reads and checks it and returns a `Layout`;
every mistake in the file is reported at once as `LayoutError` (bilingual), before any input is read.
"""
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from jichitai.residents.models import CHANGE_GROUP, SNAPSHOT_FIELDS, ChangeKind, Person

FORMAT = "jichitai-legacy-layout/1"
FORMAT2 = "jichitai-legacy-layout/2"
ROLES = {"header", "resident", "removed", "trailer"}  # 住民 / 除票 records are the data kinds
DATA_ROLES = {"resident", "removed"}
CHECKS = {"record_count", "hash_total", "byte_sum"}
TYPES = {"text", "kana", "wareki", "seireki", "date", "number", "code", "flag"}
TERMINATORS = {"crlf": b"\r\n", "lf": b"\n", "none": b""}
# Pseudo fields (not Person columns): the legacy keys, the last 異動, and names given as one field.
PSEUDO = {"atena_no", "household_no", "change_kind", "change_date", "full_name", "full_name_kana", "generation"}
NOT_FROM_FILE = {"is_head", "status", "removal_reason", "removal_date", "move_out_state"}
PERSON_TARGETS = (set(SNAPSHOT_FIELDS) - PSEUDO - NOT_FROM_FILE)
DATE_TYPES = {"wareki", "seireki", "date"}
HEAD = "世帯主"


class LayoutError(ValueError):
    pass


@dataclass
class Field:
    name: str
    offset: int
    length: int
    type: str
    required: bool = False
    codes: dict | None = None
    code_list: str = ""
    true_values: tuple = ("1",)
    false_values: tuple = ("0", "")
    allow_halfwidth_kana: bool = False
    label: str = ""
    halfwidth_only: bool = False  # v2: full-width characters are refused
    era_overflow: bool = False  # v2: 平成31年5月 / 平成32年 accepted (converted, reported as a warning)
    check: str = ""  # trailer fields: record_count / hash_total / byte_sum
    of: str = ""  # hash_total: the data field summed
    extra: bool = False  # v2: no target field; kept as the person's extra attribute

    @property
    def end(self):
        return self.offset + self.length


@dataclass
class RecordType:
    """v2: one kind of record, chosen by the record-type field: its role and its own field list."""
    code: str
    role: str
    label: str
    fields: list
    by_name: dict

    def field(self, name):
        return self.by_name.get(name)


@dataclass
class Layout:
    name: str
    record_length: int
    terminator: bytes
    household_key: str
    person_key: str
    resident_code: str
    fields: list
    code_lists: dict
    sha256: str
    source: str = ""
    by_name: dict = field(default_factory=dict)
    version: int = 1
    record_type: tuple | None = None  # v2: (offset, length) of the record-type field
    record_types: dict = field(default_factory=dict)  # v2: code -> RecordType
    generation_key: str = ""  # v2: the field holding the generation (履歴番号); "" = one row per person
    resident_code_check_digit: bool = False

    def type_of(self, line: bytes):
        """The RecordType of a v2 record (None: unknown code); v1: the layout itself."""
        if self.record_type is None:
            return self
        off, ln = self.record_type
        code = line[off:off + ln]
        return self.record_types.get((code.decode("ascii") if code.isascii() else
                                      code.decode("cp932", "replace")).strip())

    def roles(self, role):
        return [rt for rt in self.record_types.values() if rt.role == role]

    def field(self, name):
        return self.by_name.get(name)

    def raw(self, line: bytes, name: str) -> bytes:
        f = self.by_name.get(name)
        return line[f.offset:f.end] if f else b""


def _err(errors, ja, en):
    errors.append(f"{ja} / {en}")


def load_layout(path) -> Layout:
    path = Path(path)
    try:
        data_bytes = path.read_bytes()
    except OSError as e:
        raise LayoutError(f"レイアウトファイルを読めません / cannot read the layout file: {e}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(data_bytes.decode("utf-8"))
        else:
            data = tomllib.loads(data_bytes.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise LayoutError(f"レイアウトファイルの書式が正しくありません / the layout file does not parse: {e}") from None
    return parse_layout(data, hashlib.sha256(data_bytes).hexdigest(), str(path))


def parse_layout(data: dict, sha256: str = "", source: str = "") -> Layout:
    errors = []
    if data.get("format", FORMAT) not in (FORMAT, FORMAT2):
        _err(errors, f"format は {FORMAT} か {FORMAT2} にしてください", f"format must be {FORMAT} or {FORMAT2}")
    enc = str(data.get("encoding", "cp932")).lower()
    if enc not in ("cp932", "shift_jis", "sjis", "ms932", "windows-31j"):
        _err(errors, "encoding は cp932 のみ対応しています", "only the cp932 encoding is supported")
    rl = data.get("record_length")
    if not isinstance(rl, int) or rl <= 0:
        _err(errors, "record_length（レコード長、バイト）を正の整数で指定してください",
             "record_length (bytes) must be a positive integer")
        rl = 0
    term = data.get("line_terminator", "crlf")
    if term not in TERMINATORS:
        _err(errors, "line_terminator は crlf / lf / none のいずれかです", "line_terminator must be crlf, lf or none")
        term = "crlf"
    code_lists = {}
    for lname, mapping in (data.get("codes") or {}).items():
        if not isinstance(mapping, dict) or not mapping:
            _err(errors, f"コード表 {lname} が空か表ではありません", f"code list {lname} is empty or not a table")
            continue
        code_lists[lname] = {str(k): str(v) for k, v in mapping.items()}
    version = 2 if data.get("format") == FORMAT2 else 1
    if version == 1:
        fields, seen = _fields(data.get("fields") or [], rl, code_lists, errors, "fields", version)
        data_types = [(None, fields, seen)]
        rtypes, rt_field = {}, None
    else:
        rt_field, rtypes, data_types = _record_types(data, rl, code_lists, errors)
        fields, seen = (data_types[0][1], data_types[0][2]) if data_types else ([], {})
    for _rt, fields, seen in data_types:
        _check_data_fields(data, fields, seen, errors, version)
    fields, seen = (data_types[0][1], data_types[0][2]) if data_types else ([], {})
    if errors:
        raise LayoutError("レイアウトファイルの誤り / layout errors:\n  " + "\n  ".join(errors))
    return Layout(name=str(data.get("name", "")), record_length=rl, terminator=TERMINATORS[term],
                  household_key=data.get("household_key", "household_no"),
                  person_key=data.get("person_key", "atena_no"),
                  resident_code=data.get("resident_code", "resident_code"), fields=fields, code_lists=code_lists,
                  sha256=sha256, source=source, by_name=seen, version=version, record_type=rt_field,
                  record_types=rtypes, generation_key=data.get("generation_key", "") if version == 2 else "",
                  resident_code_check_digit=bool(data.get("resident_code_check_digit", version == 2)))


def _record_types(data, rl, code_lists, errors):
    rt = data.get("record_type") or {}
    off, ln = rt.get("offset"), rt.get("length")
    if not isinstance(off, int) or not isinstance(ln, int) or off < 0 or ln <= 0 or (rl and off + ln > rl):
        _err(errors, "record_type = { offset, length }（レコード種別の位置）を指定してください",
             "record_type = { offset, length } (where the record type is) is required")
        off, ln = 0, 1
    rtypes, data_types = {}, []
    for i, rd in enumerate(data.get("records") or []):
        where = f"records[{i}]"
        code, role = str(rd.get("code", "")), rd.get("role", "")
        if not code or len(code.encode("cp932", "replace")) > ln:
            _err(errors, f"{where}: code（レコード種別の値）は {ln} バイト以内で指定してください",
                 f"{where}: code must be given, at most {ln} bytes")
            continue
        if code in rtypes:
            _err(errors, f"{where}: レコード種別 {code} が二度定義されています", f"{where}: record type {code} twice")
            continue
        if role not in ROLES:
            _err(errors, f"{where}: role は {sorted(ROLES)} のいずれかです", f"{where}: role must be one of {sorted(ROLES)}")
            continue
        if role in DATA_ROLES:
            fields, seen = _fields(rd.get("fields") or [], rl, code_lists, errors, f"{where}.fields", 2)
            data_types.append((code, fields, seen))
            if role == "removed":
                ck = seen.get("change_kind")
                if ck is None or not ck.required or ck.type != "code" or any(
                        CHANGE_GROUP.get(ChangeKind(v)) != "消除" for v in ck.codes.values() if v in ChangeKind.values):
                    _err(errors, f"{where}: 除票レコードには必須の change_kind（消除事由、消除の事由だけのコード表）"
                                 "が要ります", f"{where}: a removed record needs a required change_kind whose code "
                                 "list maps to removal kinds only")
        else:
            fields, seen = _control_fields(rd.get("fields") or [], rl, errors, f"{where}.fields", role)
        for f in fields:
            if f.offset < off + ln and off < f.end:
                _err(errors, f"{where}: 項目 {f.name} がレコード種別の位置と重なっています",
                     f"{where}: field {f.name} overlaps the record type")
        rtypes[code] = RecordType(code=code, role=role, label=str(rd.get("label", "")), fields=fields, by_name=seen)
    if not data_types:
        _err(errors, "住民（resident）か除票（removed）のレコード種別が一つ以上必要です",
             "at least one record type of role resident or removed is required")
    for role in ("header", "trailer"):
        if sum(1 for r in rtypes.values() if r.role == role) > 1:
            _err(errors, f"{role} のレコード種別は一つだけです", f"only one {role} record type")
    for r in rtypes.values():
        for f in r.fields:
            if f.check == "hash_total" and not any(f.of in seen for _c, _f, seen in data_types):
                _err(errors, f"trailer の {f.name}: hash_total の of = {f.of!r} がデータレコードの項目にありません",
                     f"trailer {f.name}: hash_total of {f.of!r} is not a data field")
    return (off, ln), rtypes, data_types


def _control_fields(fds, rl, errors, where0, role):
    """Header and trailer fields: any name; trailer fields may carry a check."""
    fields, seen = [], {}
    for i, fd in enumerate(fds):
        where = f"{where0}[{i}]"
        name, off, ln = str(fd.get("name", "")), fd.get("offset"), fd.get("length")
        if not name or name in seen:
            _err(errors, f"{where}: 項目名がないか重複しています", f"{where}: missing or duplicate field name")
            continue
        if not isinstance(off, int) or not isinstance(ln, int) or off < 0 or ln <= 0 or (rl and off + ln > rl):
            _err(errors, f"{where} ({name}): offset / length がレコード長 {rl} の範囲にありません",
                 f"{where} ({name}): offset/length outside the record length {rl}")
            continue
        check = fd.get("check", "")
        if check and (role != "trailer" or check not in CHECKS):
            _err(errors, f"{where} ({name}): check は trailer の {sorted(CHECKS)} のいずれかです",
                 f"{where} ({name}): check must be one of {sorted(CHECKS)} on a trailer")
            continue
        f = Field(name=name, offset=off, length=ln, type=fd.get("type", "text"), label=str(fd.get("label", "")),
                  check=check, of=str(fd.get("of", "")))
        if check == "hash_total" and not f.of:
            _err(errors, f"{where} ({name}): hash_total には of（合計する項目）が要ります",
                 f"{where} ({name}): hash_total needs of = the field summed")
        fields.append(f)
        seen[name] = f
    return fields, seen


def _fields(fds, rl, code_lists, errors, where0, version):
    fields = []
    seen = {}
    for i, fd in enumerate(fds):
        where = f"{where0}[{i}]"
        name = fd.get("name", "")
        extra = bool(fd.get("extra", False))
        if extra and (version == 1 or not str(name).isidentifier() or name in PERSON_TARGETS or name in PSEUDO):
            _err(errors, f"{where}: extra = true は format {FORMAT2} で、取込先のない項目（英数字の名前）に指定します",
                 f"{where}: extra = true needs format {FORMAT2} and a name that is not a target field")
            continue
        if not extra and name not in PERSON_TARGETS and name not in PSEUDO:
            _err(errors, f"{where}: 項目名 {name!r} は取り込めません（Person の項目名か {sorted(PSEUDO)}）",
                 f"{where}: unknown target field {name!r}")
            continue
        if name in seen:
            _err(errors, f"{where}: 項目 {name} が二度定義されています", f"{where}: field {name} defined twice")
            continue
        off, ln, typ = fd.get("offset"), fd.get("length"), fd.get("type", "text")
        if not isinstance(off, int) or not isinstance(ln, int) or off < 0 or ln <= 0 or (rl and off + ln > rl):
            _err(errors, f"{where} ({name}): offset / length がレコード長 {rl} の範囲にありません",
                 f"{where} ({name}): offset/length outside the record length {rl}")
            continue
        if name == "generation" and version == 1:
            _err(errors, f"{where}: generation は format {FORMAT2} の項目です", f"{where}: generation needs v2")
            continue
        if typ not in TYPES:
            _err(errors, f"{where} ({name}): 型 {typ!r} は使えません（{sorted(TYPES)}）", f"{where}: unknown type {typ!r}")
            continue
        f = Field(name=name, offset=off, length=ln, type=typ, required=bool(fd.get("required", False)),
                  allow_halfwidth_kana=bool(fd.get("allow_halfwidth_kana", False)), label=fd.get("label", ""),
                  halfwidth_only=bool(fd.get("halfwidth_only", False)),
                  era_overflow=bool(fd.get("era_overflow", False)), extra=extra)
        if (f.halfwidth_only or f.era_overflow) and version == 1:
            _err(errors, f"{where} ({name}): halfwidth_only / era_overflow は format {FORMAT2} の指定です",
                 f"{where} ({name}): halfwidth_only / era_overflow need format {FORMAT2}")
        if f.era_overflow and typ not in DATE_TYPES:
            _err(errors, f"{where} ({name}): era_overflow は日付の項目だけに指定できます",
                 f"{where} ({name}): era_overflow is for date fields only")
        if typ == "code":
            lname = fd.get("codes", "")
            if lname not in code_lists:
                _err(errors, f"{where} ({name}): コード表 {lname!r} が codes にありません",
                     f"{where} ({name}): code list {lname!r} not defined under [codes]")
                continue
            f.code_list, f.codes = lname, code_lists[lname]
        if typ == "flag":
            f.true_values = tuple(str(v) for v in fd.get("true_values", ["1"]))
            f.false_values = tuple(str(v) for v in fd.get("false_values", ["0", ""]))
        fields.append(f)
        seen[name] = f
    # overlaps
    spans = sorted((f.offset, f.end, f.name) for f in fields)
    for (a0, a1, an), (b0, b1, bn) in zip(spans, spans[1:]):
        if b0 < a1:
            _err(errors, f"項目 {an} と {bn} のバイト範囲が重なっています", f"fields {an} and {bn} overlap")
    return fields, seen


def _check_data_fields(data, fields, seen, errors, version):
    for key, default in (("household_key", "household_no"), ("person_key", "atena_no"),
                         ("resident_code", "resident_code")):
        name = data.get(key, default)
        if name not in seen:
            _err(errors, f"{key} = {name!r} の項目が fields にありません", f"{key} {name!r} is not among the fields")
    gk = data.get("generation_key", "") if version == 2 else ""
    if gk and (gk not in seen or seen[gk].type != "number"):
        _err(errors, f"generation_key = {gk!r}（履歴番号）は number 型の項目として fields に必要です",
             f"generation_key {gk!r} must be a number field")
    # the fields the register needs, by type
    for name, types in (("relationship", {"code", "text"}), ("sex", {"code"}), ("birth_date", DATE_TYPES),
                        ("change_date", DATE_TYPES), ("change_kind", {"code"}), ("address", {"text"})):
        f = seen.get(name)
        if f is not None and f.type not in types:
            _err(errors, f"項目 {name} の型は {sorted(types)} のいずれかです", f"field {name} must be of type {sorted(types)}")
    for f in fields:
        try:
            mf = Person._meta.get_field(f.name)
        except Exception:
            continue
        it = mf.get_internal_type()
        if it == "DateField" and f.type not in DATE_TYPES:
            _err(errors, f"項目 {f.name} は日付です（wareki / seireki / date）", f"field {f.name} is a date")
        if it == "BooleanField" and f.type != "flag":
            _err(errors, f"項目 {f.name} は flag 型にしてください", f"field {f.name} must be of type flag")
    if "sex" in seen and not set(seen["sex"].codes.values()) <= {"1", "2"}:
        _err(errors, "性別のコード表は 1（男）/ 2（女）に対応付けてください", "the sex code list must map to 1 or 2")
    if "change_kind" in seen and not set(seen["change_kind"].codes.values()) <= set(ChangeKind.values):
        bad = sorted(set(seen["change_kind"].codes.values()) - set(ChangeKind.values))
        _err(errors, f"異動事由のコード表に未知の事由 {bad}（{ChangeKind.values} から）",
             f"unknown change kinds {bad} in the change_kind code list")
    for name in ("family_name", "birth_date", "sex", "address", "relationship"):
        if name not in seen and not (name == "family_name" and "full_name" in seen):
            _err(errors, f"必須の項目 {name} が fields にありません", f"required field {name} is missing")
