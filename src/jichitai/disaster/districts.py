"""Districts (町字) for the safety board and the not-yet-confirmed list.

One function, `district_of(address)`: until a 町字 master exists (another part adds one) the district is read from
the address text — everything before the first digit (算用数字, 全角 included) or 番地/番: 「三本松二丁目3番5号」 →
「三本松二丁目」. Replace this body with the master's look-up; callers do not change.
"""
import re

_CUT = re.compile(r"[0-9０-９]|番地|番")


def district_of(address: str) -> str:
    s = (address or "").strip()
    if not s:
        return ""
    m = _CUT.search(s)
    head = s[: m.start()] if m else s
    return head.strip(" 　-－") or s
