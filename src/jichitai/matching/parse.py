"""Reading one input row as people actually write it (pure Python, no Django).

氏名 as one string (any separator, possibly swapped, possibly only the given name, possibly in kana), フリガナ in
any kana form, 生年月日 as 西暦 / 和暦 / year only / an age (`72歳`) / an age band (`70代`), 性別 in words, 住所 as free
text. Nothing here folds characters itself: name layers and kana keys come from `jichitai.moji`.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from jichitai import moji
from jichitai.common.wareki import ERAS

_SEPARATORS = re.compile(r"[\s\u3000・･,，、/／_＿|｜]+")
_ERA_START = {}
for _name, _letter, _code, _first, _last in ERAS:
    _ERA_START[_name] = _first.year
    _ERA_START[_name[0]] = _first.year
    _ERA_START[_letter] = _first.year
    _ERA_START[_letter.lower()] = _first.year
_ERA_ALT = "|".join(sorted(_ERA_START, key=len, reverse=True))
_WAREKI = re.compile(rf"^(?P<era>{_ERA_ALT})\s*(?P<y>元|\d{{1,2}})\s*(?:年|[.\-/])?\s*"
                     rf"(?:(?P<m>\d{{1,2}})\s*(?:月|[.\-/])?\s*(?:(?P<d>\d{{1,2}})\s*日?)?)?$")
_SEIREKI = re.compile(r"^(?P<y>\d{4})\s*(?:年|[.\-/])?\s*(?:(?P<m>\d{1,2})\s*(?:月|[.\-/])?\s*"
                      r"(?:(?P<d>\d{1,2})\s*日?)?)?$")
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_AGE = re.compile(r"^(?:満)?(?P<a>\d{1,3})\s*(?:歳|才|さい)?$")
_DECADE = re.compile(r"^(?P<a>\d{1,2})0\s*(?:代|歳代|才代)(?P<half>前半|後半)?$")
_KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_HAS_KANJI_NUMBER = re.compile(r"[〇一二三四五六七八九十](?:丁目|番|号|の|$|-)")
_KANJI_NUMBER = re.compile(r"[〇一二三四五六七八九十]+(?=丁目|番|号|の|$|-)")
_DASHES = re.compile(r"-+")
_ADDRESS_UNITS = re.compile(r"(丁目|番地の|番地|番の|番|号|の|－|‐|−|ー(?=\d))")


@dataclass(frozen=True)
class Birth:
    """What the row says about the birth date. kind: date | ym | year | age | decade | none.
    For `date` the day and month are kept as written even when they make no calendar date (2月30日), so that a
    slipped or swapped date can still be compared."""

    kind: str
    year: int | None = None
    month: int | None = None
    day: int | None = None
    age_lo: int | None = None
    age_hi: int | None = None
    text: str = ""

    @property
    def date(self) -> dt.date | None:
        if self.kind != "date":
            return None
        try:
            return dt.date(self.year, self.month, self.day)
        except (ValueError, TypeError):
            return None


def _kanji_number(s: str) -> str:
    """一 → 1, 十二 → 12, 二十三 → 23 (the numbers addresses use)."""
    def repl(m):
        t = m.group(0)
        if "十" not in t:
            return "".join(str(_KANJI_DIGITS[c]) for c in t)
        tens, _, ones = t.partition("十")
        return str((_KANJI_DIGITS.get(tens, 1) if tens else 1) * 10 + (_KANJI_DIGITS.get(ones, 0) if ones else 0))

    return _KANJI_NUMBER.sub(repl, s)


def parse_birth(text: str, today: dt.date) -> Birth:
    raw = (text or "").strip()
    if not raw:
        return Birth("none")
    s = unicodedata.normalize("NFKC", raw).replace(" ", "")
    if m := _DECADE.match(s):
        lo = int(m["a"]) * 10
        hi = lo + 9
        if m["half"] == "前半":
            hi = lo + 4
        elif m["half"] == "後半":
            lo += 5
        return Birth("decade", age_lo=lo, age_hi=hi, text=raw)
    if m := _AGE.match(s):
        if len(m["a"]) <= 3 and (s.endswith(("歳", "才", "さい")) or int(m["a"]) < 130):
            a = int(m["a"])
            return Birth("age", age_lo=a, age_hi=a, text=raw)
    if m := _COMPACT.match(s):
        return Birth("date", int(m["y"]), int(m["m"]), int(m["d"]), text=raw)
    m = _WAREKI.match(s)
    if m:
        key = m["era"]
        base = _ERA_START.get(key) or _ERA_START.get(key[0])
        y = base + (1 if m["y"] == "元" else int(m["y"])) - 1
    else:
        m = _SEIREKI.match(s)
        if not m:
            return Birth("none", text=raw)
        y = int(m["y"])
    if m["m"] and m["d"]:
        return Birth("date", y, int(m["m"]), int(m["d"]), text=raw)
    if m["m"]:
        return Birth("ym", y, int(m["m"]), text=raw)
    return Birth("year", y, text=raw)


def parse_sex(text: str) -> str:
    s = unicodedata.normalize("NFKC", (text or "").strip()).lower()
    if s in ("1", "男", "男性", "m", "male", "おとこ", "オトコ"):
        return "1"
    if s in ("2", "女", "女性", "f", "female", "おんな", "オンナ"):
        return "2"
    return ""


def address_key(text: str, drop_prefixes=()) -> str:
    """A comparable form of a written address: NFKC, no spaces, the prefecture and municipality names dropped if
    written, kanji numbers before 丁目/番/号 as digits and 丁目・番地・番・号・の as '-' (一丁目12番3号 = 1-12-3)."""
    s = unicodedata.normalize("NFKC", text or "").replace(" ", "").replace("\u3000", "")
    for p in drop_prefixes:
        if p and s.startswith(p):
            s = s[len(p):]
    if _HAS_KANJI_NUMBER.search(s):
        s = _kanji_number(s)
    s = _ADDRESS_UNITS.sub("-", s)
    if "--" in s:
        s = _DASHES.sub("-", s)
    return s.strip("-")


_TOWN = re.compile(r"^[^\d]+")


def town_of(key: str) -> str:
    """The 町字 part of an address key: everything before the first digit."""
    m = _TOWN.match(key)
    return m.group(0).rstrip("-") if m else ""


@dataclass
class Row:
    """One input row, read."""

    index: int
    evacuee_id: str
    name: str
    tokens: list
    name_is_kana: bool
    kana: str
    kana_tokens: list
    birth: Birth
    sex: str
    address: str
    address_key: str
    town: str
    group: str
    # derived keys
    name_forms: list = field(default_factory=list)  # [((exact, selector, degenerate, variant keys), swapped?)]
    kana_forms: list = field(default_factory=list)  # [((strict, loose kana keys), swapped?)]
    name_var_keys: dict = field(default_factory=dict)  # variant key → swapped?
    kana_loose_keys: dict = field(default_factory=dict)  # loose kana of the full name → swapped?
    single_token: bool = False


def _rotations(tokens: list, text: str) -> list:
    """(form, swapped) for the name as written and with family and given exchanged: at the separator if there is
    one, else at every split point of an unsplit name (太郎山田 → 山田太郎)."""
    forms = [(text, False)]
    if len(tokens) >= 2:
        forms.append(("".join(tokens[1:] + tokens[:1]), True))
        if len(tokens) > 2:
            forms.append(("".join(tokens[-1:] + tokens[:-1]), True))
    elif 2 <= len(text) <= 12:
        units = moji.units(text)
        for i in range(1, len(units)):
            forms.append(("".join(units[i:] + units[:i]), True))
    return forms


def _key_forms(tokens: list, keys_of) -> list:
    """[(keys, swapped)] of the name as written and exchanged. Name keys fold character by character, so the keys of
    a rotation are the rotation of the keys (an unsplit name is rotated at every split point). Kana keys are taken of
    the joined reading, as the register's are (the loose key folds long vowels across the boundary)."""
    if keys_of is moji.kana_keys:
        out = [(keys_of("".join(tokens)), False)]
        if len(tokens) >= 2:  # an unsplit reading is compared as written: a swapped unsplit reading is rare
            out.append((keys_of("".join(tokens[1:]) + tokens[0]), True))
        return out
    if len(tokens) == 2:
        a, b = keys_of(tokens[0]), keys_of(tokens[1])
        return [((a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]), False),
                ((b[0] + a[0], b[1] + a[1], b[2] + a[2], b[3] + a[3]), True)]
    if len(tokens) > 2:
        ks = [keys_of(t) for t in tokens]
        join = lambda parts: tuple("".join(p[j] for p in parts) for j in range(4))  # noqa: E731
        return [(join(ks), False), (join(ks[1:] + ks[:1]), True), (join(ks[-1:] + ks[:-1]), True)]
    k = keys_of(tokens[0])
    out = [(k, False)]
    if len(k[0]) > 12:
        return out
    if len(k[3]) != len(k[0]) or _VS_RE.search(tokens[0]):  # selectors: rotate the text itself
        return [(keys_of(f), sw) for f, sw in _rotations(tokens, tokens[0])]
    for i in range(1, len(k[0])):
        out.append(((k[0][i:] + k[0][:i], k[1][i:] + k[1][:i], k[2][i:] + k[2][:i], k[3][i:] + k[3][:i]), True))
    return out


_VS_RE = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def read_row(index: int, data: dict, *, today: dt.date, drop_prefixes=()) -> Row:
    name = (data.get("name") or "").strip()
    tokens = [t for t in _SEPARATORS.split(name) if t]
    joined = "".join(tokens)
    kana = (data.get("kana") or "").strip()
    name_is_kana = bool(joined) and moji.is_kana(joined)
    if not kana and name_is_kana:
        kana = name
    kana_tokens = [t for t in _SEPARATORS.split(kana) if t]
    addr = (data.get("address") or "").strip()
    akey = address_key(addr, drop_prefixes)
    row = Row(index=index, evacuee_id=str(data.get("evacuee_id") or "").strip(), name=name, tokens=tokens,
              name_is_kana=name_is_kana, kana=kana, kana_tokens=kana_tokens,
              birth=parse_birth(data.get("birth") or "", today), sex=parse_sex(data.get("sex") or ""),
              address=addr, address_key=akey, town=town_of(akey), group=str(data.get("group") or "").strip(),
              single_token=len(tokens) == 1)
    if joined and not name_is_kana:
        row.name_forms = _key_forms(tokens, moji.name_keys)  # [((exact, selector, degenerate, variant), swapped)]
        for keys, swapped in row.name_forms:
            row.name_var_keys.setdefault(keys[3], swapped)
    if kana_tokens:
        row.kana_forms = _key_forms(kana_tokens, moji.kana_keys)  # [((strict, loose), swapped)]
        if name_is_kana and kana != name:  # a name in kana is a reading too (either may hold the slip): both count
            name_forms = _key_forms(tokens, moji.kana_keys)
            if name_forms[0][0] != row.kana_forms[0][0]:
                row.kana_forms = name_forms + row.kana_forms
                row.kana_tokens = tokens
        for keys, swapped in row.kana_forms:
            row.kana_loose_keys.setdefault(keys[1], swapped)
    return row
