"""Reading and writing the `disaster match` CSV files. Errors are bilingual `MatchInputError`s."""
from __future__ import annotations

import csv
import io

FIELDS = ("name", "kana", "birth", "sex", "address", "group", "evacuee_id")
FIELD_LABELS = {"name": "氏名", "kana": "フリガナ", "birth": "生年月日", "sex": "性別", "address": "住所",
                "group": "同行グループ", "evacuee_id": "避難者ID"}
OUTPUT_HEADER = ["避難者ID", "宛名番号", "住民票コード", "判定", "得点", "理由", "重複グループ", "候補数"]
ENCODINGS = ("utf-8-sig", "cp932")


class MatchInputError(ValueError):
    """Bad input for the matcher: str() is a bilingual message."""


def parse_columns(spec: str | None) -> dict:
    """`名前=name,フリガナ=kana` → {"名前": "name", "フリガナ": "kana"}."""
    out = {}
    if not spec:
        return out
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise MatchInputError(f"--columns の「{part}」は「列名=項目」の形で書いてください / "
                                  f"--columns entry {part!r} must be COLUMN=FIELD")
        col, fld = (x.strip() for x in part.split("=", 1))
        if fld not in FIELDS or fld == "evacuee_id":
            raise MatchInputError(
                f"--columns: 項目「{fld}」はありません（使える項目: {', '.join(FIELDS[:-1])}） / "
                f"unknown field {fld!r} (fields: {', '.join(FIELDS[:-1])})")
        out[col] = fld
    return out


def read_rows(path: str, *, columns: dict, id_column: str | None = None, encoding: str | None = None) -> list:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise MatchInputError(f"入力ファイルを開けません: {path}（{e.strerror}） / cannot open input file {path}: "
                              f"{e.strerror}") from None
    text = None
    for enc in ((encoding,) if encoding else ENCODINGS):
        try:
            text = data.decode(enc)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    if text is None or "\x00" in text:
        raise MatchInputError(
            f"入力ファイルの文字コードを読めません（UTF-8 または Shift_JIS(CP932) の CSV にしてください）: {path} / "
            f"cannot decode {path}: save it as a UTF-8 or Shift_JIS (CP932) CSV")
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        body = list(reader)
    except csv.Error as e:
        raise MatchInputError(f"CSVとして読めません: {e} / not a readable CSV: {e}") from None
    if not header:
        raise MatchInputError(f"入力ファイルが空です: {path} / the input file is empty: {path}")
    header = [h.strip() for h in header]
    mapping = {}
    for col, fld in columns.items():
        if col not in header:
            raise MatchInputError(f"--columns: 列「{col}」が入力ファイルにありません（列: {', '.join(header)}） / "
                                  f"column {col!r} is not in the input file (columns: {', '.join(header)})")
        mapping[header.index(col)] = fld
    mapped = set(mapping.values())
    for i, h in enumerate(header):  # columns already named like the fields need no mapping
        if h in FIELDS and h not in mapped and i not in mapping and h != "evacuee_id":
            mapping[i] = h
    if id_column:
        if id_column not in header:
            raise MatchInputError(f"--id-column: 列「{id_column}」が入力ファイルにありません / "
                                  f"column {id_column!r} is not in the input file")
        mapping[header.index(id_column)] = "evacuee_id"
    if "name" not in mapping.values():
        raise MatchInputError("氏名の列（name）がありません。--columns で「列名=name」を指定してください / "
                              "no name column: map one with --columns COLUMN=name")
    rows = []
    for n, rec in enumerate(body, start=1):
        if not any(c.strip() for c in rec):
            continue
        row = {fld: (rec[i] if i < len(rec) else "") for i, fld in mapping.items()}
        row.setdefault("evacuee_id", "")
        if not row["evacuee_id"]:
            row["evacuee_id"] = str(n)
        rows.append(row)
    return rows


def write_results(path: str, results) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(OUTPUT_HEADER)
    for r in results:
        top = r.top
        why = (list(top.reasons) if top and r.decision != "none" else []) + list(r.notes)
        w.writerow([r.evacuee_id, top.atena_no if top and r.decision != "none" else "",
                    top.resident_code if top and r.decision != "none" else "", r.decision_label,
                    f"{top.score:g}" if top else "0", "；".join(why), r.duplicate_group, len(r.candidates)])
    try:
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            fh.write(buf.getvalue())
    except OSError as e:
        raise MatchInputError(f"出力ファイルに書けません: {path}（{e.strerror}） / cannot write {path}: "
                              f"{e.strerror}") from None
