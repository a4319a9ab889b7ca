"""Dates as Japanese staff type them: 西暦 and 和暦 (S50.4.1, 昭和50年4月1日, 1975-04-01, 4220401 …). Pure Python.

Every era has a first and last day; a date outside its era (令和 before 2019-05-01, 平成 after 2019-04-30) or an
impossible calendar date (2月30日) is rejected with a message saying why.
"""
import datetime as dt
import re
import unicodedata

# (name, letter, legacy numeric code, first day, last day)
ERAS = [
    ("明治", "M", 1, dt.date(1868, 1, 25), dt.date(1912, 7, 29)),
    ("大正", "T", 2, dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    ("昭和", "S", 3, dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    ("平成", "H", 4, dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    ("令和", "R", 5, dt.date(2019, 5, 1), dt.date(9999, 12, 31)),
]
_BY_KEY = {}
for _e in ERAS:
    _BY_KEY[_e[0]] = _e
    _BY_KEY[_e[1]] = _e
    _BY_KEY[_e[0][0]] = _e  # 明 大 昭 平 令
    _BY_KEY[str(_e[2])] = _e


# The two transition days written in either era: the emperor died on the day, and the new era began that day, so
# 明治45年7月30日 = 大正元年7月30日 and 大正15年12月25日 = 昭和元年12月25日. (昭和64年1月7日 → 平成元年1月8日 and
# 平成31年4月30日 → 令和元年5月1日 changed at midnight: no day has two writings.)
ALSO_LAST = {"明治": dt.date(1912, 7, 30), "大正": dt.date(1926, 12, 25)}


class DateInputError(ValueError):
    """A date the user typed that cannot be read or does not exist. str() is a bilingual message."""


class EraOverflow(UserWarning):
    """A date written in an era after that era ended (平成31年5月1日, 平成32年): accepted only where asked for."""


_WAREKI = re.compile(
    r"^(?P<era>明治|大正|昭和|平成|令和|[MTSHRmtshr明大昭平令])\s*(?P<y>元|\d{1,2})\s*[年.\-/]\s*(?P<m>\d{1,2})\s*[月.\-/]\s*(?P<d>\d{1,2})\s*日?$"
)
_SEIREKI = re.compile(r"^(?P<y>\d{4})\s*[年.\-/]\s*(?P<m>\d{1,2})\s*[月.\-/]\s*(?P<d>\d{1,2})\s*日?$")
_COMPACT_SEIREKI = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_COMPACT_WAREKI = re.compile(r"^(?P<era>[1-5])(?P<y>\d{2})(?P<m>\d{2})(?P<d>\d{2})$")  # vendor form 4220401


def _make(y: int, m: int, d: int, text: str) -> dt.date:
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise DateInputError(f"「{text}」は存在しない日付です / {text!r} is not a real date") from None


def _from_era(era, y: int, m: int, d: int, text: str, overflow: list | None = None) -> dt.date:
    name, _, _, first, last = era
    if y < 1:
        raise DateInputError(f"「{text}」: 和暦の年は1（元年）以上です / era year must be 1 or more")
    date = _make(first.year + y - 1, m, d, text)
    last = ALSO_LAST.get(name, last)
    if date > last and overflow is not None:
        overflow.append(f"「{text}」は{name}の終了後の日付（元号の読み替え漏れ）です。{date:%Y-%m-%d}"
                        f"（{format_wareki(date)}）として読みました / {text!r} is written in {name} after that era "
                        f"ended; read as {date:%Y-%m-%d}")
        return date
    if date < first or date > last:
        span = f"{first:%Y-%m-%d}〜" + ("" if last.year == 9999 else f"{last:%Y-%m-%d}")
        raise DateInputError(
            f"「{text}」は{name}の期間（{span}）にありません / {text!r} is outside the {name} era ({span})"
        )
    return date


def parse_date(text: str, overflow: list | None = None) -> dt.date:
    """Parse a date typed in 西暦 or 和暦. Raises DateInputError with a bilingual message.

    Both writings of a transition day are accepted (ALSO_LAST). A date before its era began is always rejected. A
    date after its era ended (era overflow, 平成31年5月1日) is rejected, unless a list is passed as `overflow`: then it
    is converted as written (平成32年 = 2020) and a bilingual warning is appended to the list."""
    if isinstance(text, dt.date):
        return text
    raw = (text or "").strip()
    if not raw:
        raise DateInputError("日付が入力されていません / no date given")
    s = unicodedata.normalize("NFKC", raw).replace(" ", "")
    if m := _WAREKI.match(s):
        era = _BY_KEY[m["era"].upper() if m["era"].isascii() else m["era"]]
        year = 1 if m["y"] == "元" else int(m["y"])
        return _from_era(era, year, int(m["m"]), int(m["d"]), raw, overflow)
    if m := _SEIREKI.match(s) or _COMPACT_SEIREKI.match(s):
        return _make(int(m["y"]), int(m["m"]), int(m["d"]), raw)
    if m := _COMPACT_WAREKI.match(s):
        return _from_era(_BY_KEY[m["era"]], int(m["y"]), int(m["m"]), int(m["d"]), raw, overflow)
    raise DateInputError(
        f"「{raw}」を日付として読めません（例: 1975-04-01、S50.4.1、昭和50年4月1日） / cannot read {raw!r} as a date"
    )


def era_of(date: dt.date):
    for era in reversed(ERAS):
        if date >= era[3]:
            return era
    return None


def format_wareki(date: dt.date | None) -> str:
    """昭和50年4月1日 (元年 for the first year). Dates before 明治 are shown in 西暦."""
    if date is None:
        return ""
    era = era_of(date)
    if era is None:
        return f"{date.year}年{date.month}月{date.day}日"
    y = date.year - era[3].year + 1
    return f"{era[0]}{'元' if y == 1 else y}年{date.month}月{date.day}日"
