"""One validation for an evacuee's row, whoever typed it: the reception desk's quick entry, a CSV typed from a
paper list, the command line. Plain Python, no ORM object per row.

A row's raw values are strings keyed by FIELDS. `clean_rows` validates them all and raises one ValidationError
listing every bad row with its line number («3行目: …»); nothing is written by the caller in that case.
"""
import csv
import io
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils import timezone

from jichitai.common.wareki import DateInputError, parse_date
from jichitai.moji.kana import is_kana

from .models.core import EvacuationPlace
from .models.evacuees import Presence

FIELDS = ("full_name", "kana", "birth_text", "sex", "address", "nationality", "injury", "place", "place_note",
          "contact", "consent_family", "consent_acquaintance", "consent_public", "group_key", "presence")

# CSV column names (Japanese, as on the 消防庁 安否情報 form) → fields. English names are accepted too.
CSV_HEADERS = {
    "氏名": "full_name", "フリガナ": "kana", "生年月日": "birth_text", "出生の年月日": "birth_text", "性別": "sex",
    "男女の別": "sex", "住所": "address", "国籍": "nationality", "負傷・疾病": "injury",
    "負傷又は疾病の状況": "injury", "居所": "place", "居所の詳細": "place_note", "連絡先": "contact",
    "家族への開示": "consent_family", "知人への開示": "consent_acquaintance", "公表": "consent_public",
    "世帯グループ": "group_key", "在所": "presence",
}
CSV_HEADERS.update({f: f for f in FIELDS})
REQUIRED_HEADERS = ("full_name", "place")

_YES = {"1", "○", "〇", "はい", "yes", "y", "true", "同意", "可", "有"}
_NO = {"", "0", "×", "いいえ", "no", "n", "false", "不同意", "否", "無", "-"}
_SEX = {"": "", "男": "1", "男性": "1", "1": "1", "m": "1", "male": "1", "女": "2", "女性": "2", "2": "2", "f": "2",
        "female": "2", "その他": "9", "9": "9", "other": "9", "不明": ""}
_PLACE = {"在宅": EvacuationPlace.HOME, "在宅避難": EvacuationPlace.HOME, "自宅": EvacuationPlace.HOME,
          "home": EvacuationPlace.HOME, "車中泊": EvacuationPlace.CAR, "車": EvacuationPlace.CAR,
          "car": EvacuationPlace.CAR, "その他": EvacuationPlace.OTHER, "親族宅": EvacuationPlace.OTHER,
          "other": EvacuationPlace.OTHER}
_PRESENCE = {"": Presence.BOTH, "昼夜": Presence.BOTH, "both": Presence.BOTH, "夜間のみ": Presence.NIGHT,
             "夜": Presence.NIGHT, "night": Presence.NIGHT, "昼間のみ": Presence.DAY, "昼": Presence.DAY,
             "day": Presence.DAY}
# birth written as an age or a year only: kept as text for the matcher (no date)
_PARTIAL_BIRTH = re.compile(r"^(\d{1,3}歳|\d{1,2}0代|\d{4}年?|(明治|大正|昭和|平成|令和|[MTSHR])(\d{1,2}|元)年?)$",
                            re.I)
_LIMITS = {"full_name": 100, "kana": 200, "birth_text": 40, "address": 200, "nationality": 40, "injury": 200,
           "place_note": 200, "contact": 100, "group_key": 40}
_LABELS = {"full_name": "氏名", "kana": "フリガナ", "birth_text": "生年月日", "address": "住所", "nationality": "国籍",
           "injury": "負傷・疾病", "place_note": "居所の詳細", "contact": "連絡先", "group_key": "世帯グループ"}


def _norm(v) -> str:
    return unicodedata.normalize("NFKC", str(v if v is not None else "")).strip()


def _flag(v, label, errs):
    s = _norm(v).lower()
    if s in _YES or v is True:
        return True
    if s in _NO or v is False or v is None:
        return False
    errs.append(f"{label}は「はい」か「いいえ」（○/×、1/0）で入力してください（「{v}」）")
    return False


def clean_row(raw: dict, shelters_by_code: dict, *, today=None) -> tuple[dict, list[str]]:
    """(clean values, problems). Names are kept exactly as written (no normalisation); only the flags, sex, place
    and dates are read."""
    errs = []
    r = {f: raw.get(f) if raw.get(f) is not None else "" for f in FIELDS}
    out = {}
    for f, limit in _LIMITS.items():
        v = str(r[f]).strip().replace("\t", " ")
        if len(v) > limit:
            errs.append(f"{_LABELS[f]}は{limit}文字以内で入力してください")
        out[f] = v
    if not out["full_name"]:
        errs.append("氏名を入力してください")
    if out["kana"] and not is_kana(out["kana"]):
        errs.append(f"フリガナはカタカナかひらがなで入力してください（「{out['kana']}」）")
    out["birth_date"] = None
    b = _norm(out["birth_text"]).replace(" ", "")
    if b and not _PARTIAL_BIRTH.match(b):
        try:
            out["birth_date"] = parse_date(b)
            if out["birth_date"] > (today or timezone.localdate()):
                errs.append(f"生年月日が未来の日付です（「{out['birth_text']}」）")
        except DateInputError as e:
            errs.append(f"生年月日: {e}")
    sex = _norm(r["sex"]).lower()
    if sex not in _SEX:
        errs.append(f"性別は「男」「女」「その他」か空欄で入力してください（「{r['sex']}」）")
    out["sex"] = _SEX.get(sex, "")
    place = _norm(r["place"])
    out["shelter"] = None
    if place in shelters_by_code:
        out["shelter"], out["place_kind"] = shelters_by_code[place], EvacuationPlace.SHELTER
    elif place.lower() in _PLACE:
        out["place_kind"] = _PLACE[place.lower()]
    else:
        out["place_kind"] = EvacuationPlace.OTHER
        errs.append(f"居所は開設中の避難所コード、「在宅」「車中泊」「その他」のいずれかで入力してください（「{place}」）"
                    if place else "居所（避難所コード・在宅・車中泊・その他）を入力してください")
    pres = _norm(r["presence"]).lower()
    if pres not in _PRESENCE:
        errs.append(f"在所は「昼夜」「夜間のみ」「昼間のみ」か空欄で入力してください（「{r['presence']}」）")
    out["presence"] = _PRESENCE.get(pres, Presence.BOTH)
    out["consent_family"] = _flag(r["consent_family"], "家族への開示", errs)
    out["consent_acquaintance"] = _flag(r["consent_acquaintance"], "知人への開示", errs)
    out["consent_public"] = _flag(r["consent_public"], "公表", errs)
    return out, errs


def clean_rows(rows: list[dict], shelters_by_code: dict, *, first_line: int = 1) -> list[dict]:
    if not rows:
        raise ValidationError("登録する避難者がいません / no rows")
    out, problems = [], []
    for i, raw in enumerate(rows):
        c, errs = clean_row(raw, shelters_by_code)
        out.append(c)
        problems += [f"{i + first_line}行目: {e}" for e in errs]
    if problems:
        raise ValidationError(problems)
    return out


MAX_CSV_ROWS = 20000


def _csv_rows(reader):
    """The rows of `reader`; a file the csv module cannot read (a NUL byte, a field over its limit) is refused with
    its line instead of an error page."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ValidationError(f"{reader.line_num}行目: CSVとして読めません（{e}） / unreadable CSV") from None
        yield row


def parse_csv(data: bytes | str, shelters_by_code: dict) -> list[dict]:
    """Read the CSV (UTF-8 with or without BOM, or CP932 as Excel writes it), header on line 1, and validate every
    row; a bad row is reported by its line in the file."""
    if isinstance(data, bytes):
        for enc in ("utf-8-sig", "cp932"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationError("文字コードを読めません（UTF-8 か Shift_JIS で保存してください） / unreadable encoding")
    else:
        text = data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows_of = _csv_rows(reader)
    try:
        header = next(rows_of)
    except StopIteration:
        raise ValidationError("ファイルが空です / empty file") from None
    cols = [CSV_HEADERS.get(h.strip()) for h in header]
    unknown = [h for h, c in zip(header, cols) if c is None and h.strip()]
    missing = [f for f in REQUIRED_HEADERS if f not in cols]
    if unknown or missing:
        msg = []
        if unknown:
            msg.append("1行目: 知らない列名です: " + "、".join(unknown))
        if missing:
            msg.append("1行目: 必須の列がありません: " + "、".join(_LABELS.get(f, "居所") for f in missing))
        raise ValidationError(msg)
    rows, lines, problems = [], [], []
    for row in rows_of:
        line = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.append(f"{line}行目: 列の数が見出しと違います（{len(row)}列、見出しは{len(header)}列）")
            continue
        rows.append({c: v for c, v in zip(cols, row) if c})
        lines.append(line)
        if len(rows) > MAX_CSV_ROWS:
            raise ValidationError(f"1回に取り込めるのは{MAX_CSV_ROWS}行までです。ファイルを分けてください。")
    out = []
    for line, raw in zip(lines, rows):
        c, errs = clean_row(raw, shelters_by_code)
        out.append(c)
        problems += [f"{line}行目: {e}" for e in errs]
    if problems:
        problems.sort(key=lambda s: int(s.split("行目")[0]))
        raise ValidationError(problems)
    if not out:
        raise ValidationError("登録する行がありません / no rows")
    return out
