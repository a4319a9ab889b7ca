"""The one normalisation of addresses (pure Python, no Django): kanji, arabic and full-width numerals are
equivalent (二丁目 = 2丁目 = ２丁目), as are the hyphens typed between numbers (3－4, 3ー4, 3‐4 = 3-4).

`address_key` is what address search compares (Person.address_key, the search input) and what the 町字 master
compares an entered address with. The registered text itself is never changed: this is a key, not a rewrite.

Only numerals that count something are converted — a kanji numeral directly before 丁目, 番地, 番, 号 or 地割 —
so 町字 names such as 八幡町 or 三本松 keep their kanji. The rule is applied to both sides of every comparison.
"""
import re
import unicodedata

_DIGIT = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
          "壱": 1, "弐": 2, "参": 3}
_UNIT = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUMBER = re.compile(r"[〇零一二三四五六七八九壱弐参十百千]+(?=丁目|番地|番|号|地割)")
_HYPHENS = "-‐‑‒–—―−－ーｰ"
_BETWEEN_DIGITS = re.compile(rf"(?<=\d)[{_HYPHENS}](?=\d)")
_SPACES = re.compile(r"[\s\u3000]+")


def kanji_number(text: str) -> int | None:
    """三 → 3, 十二 → 12, 二十 → 20, 百五 → 105, 一〇 → 10 (digit by digit); None if not a kanji numeral."""
    if not text or any(c not in _DIGIT and c not in _UNIT for c in text):
        return None
    if not any(c in _UNIT for c in text):  # 一〇二 written digit by digit
        return int("".join(str(_DIGIT[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c in _DIGIT:
            current = current * 10 + _DIGIT[c]
        else:
            total += (current or 1) * _UNIT[c]
            current = 0
    return total + current


def numerals(text: str) -> str:
    """Full-width to ASCII (NFKC), counted kanji numerals to arabic, hyphens between digits to '-'."""
    t = unicodedata.normalize("NFKC", text or "")
    t = _KANJI_NUMBER.sub(lambda m: str(kanji_number(m.group(0))), t)
    return _BETWEEN_DIGITS.sub("-", t)


def address_key(text: str) -> str:
    """The comparison key of an address: `numerals`, without spaces."""
    return _SPACES.sub("", numerals(text))


_ARABIC_TO_KANJI = "〇一二三四五六七八九"


def kanji_of(n: int) -> str:
    """3 → 三, 12 → 十二, 20 → 二十 (for showing a 丁目 the way the demo and most registers write it)."""
    if n < 10:
        return _ARABIC_TO_KANJI[n]
    out = ""
    for value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, value)
        if q:
            out += ("" if q == 1 else _ARABIC_TO_KANJI[q]) + unit
    return out + (_ARABIC_TO_KANJI[n] if n else "")
