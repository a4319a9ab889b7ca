"""Layout definition files: how a legacy vendor's fixed-width CP932 record is cut into fields (docs/legacy-migration.md).

A layout is TOML (or JSON with the same structure). `load_layout(path)` reads and checks it and returns a `Layout`;
every mistake in the file is reported at once as `LayoutError` (bilingual), before any input is read.
"""
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from jichitai.residents.models import SNAPSHOT_FIELDS, ChangeKind, Person

FORMAT = "jichitai-legacy-layout/1"
TYPES = {"text", "kana", "wareki", "seireki", "date", "number", "code", "flag"}
TERMINATORS = {"crlf": b"\r\n", "lf": b"\n", "none": b""}
# Pseudo fields (not Person columns): the legacy keys, the last 異動, and names given as one field.
PSEUDO = {"atena_no", "household_no", "change_kind", "change_date", "full_name", "full_name_kana"}
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

    @property
    def end(self):
        return self.offset + self.length


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
    if data.get("format", FORMAT) != FORMAT:
        _err(errors, f"format は {FORMAT} にしてください", f"format must be {FORMAT}")
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
    fields = []
    seen = {}
    for i, fd in enumerate(data.get("fields") or []):
        where = f"fields[{i}]"
        name = fd.get("name", "")
        if name not in PERSON_TARGETS and name not in PSEUDO:
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
        if typ not in TYPES:
            _err(errors, f"{where} ({name}): 型 {typ!r} は使えません（{sorted(TYPES)}）", f"{where}: unknown type {typ!r}")
            continue
        f = Field(name=name, offset=off, length=ln, type=typ, required=bool(fd.get("required", False)),
                  allow_halfwidth_kana=bool(fd.get("allow_halfwidth_kana", False)), label=fd.get("label", ""))
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
    for key, default in (("household_key", "household_no"), ("person_key", "atena_no"),
                         ("resident_code", "resident_code")):
        name = data.get(key, default)
        if name not in seen:
            _err(errors, f"{key} = {name!r} の項目が fields にありません", f"{key} {name!r} is not among the fields")
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
    if errors:
        raise LayoutError("レイアウトファイルの誤り / layout errors:\n  " + "\n  ".join(errors))
    return Layout(name=str(data.get("name", "")), record_length=rl, terminator=TERMINATORS[term],
                  household_key=data.get("household_key", "household_no"),
                  person_key=data.get("person_key", "atena_no"),
                  resident_code=data.get("resident_code", "resident_code"), fields=fields, code_lists=code_lists,
                  sha256=sha256, source=source, by_name=seen)
