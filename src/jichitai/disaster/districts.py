"""Districts (町字) for the safety board, the not-yet-confirmed list, the 避難行動要支援者名簿 and 広域避難.

One function, `district_of(address)`. With the municipality's 町字 master (chouaza app) the district is the 町字 the
address names — with its 丁目 when it has one — found by the master's own matcher (chouaza.queries.match_address,
which also makes 二丁目 = 2丁目 = ２丁目). Without a master, or for an address the master does not know, it is read
from the text: everything before the first digit (算用数字, 全角 included) or 番地/番 — 「三本松二丁目3番5号」 →
「三本松二丁目」. The master is read once per municipality object (a request, a tenant_scope block).
"""
import re

_CUT = re.compile(r"[0-9０-９]|番地|番")


def _master():
    from jichitai.chouaza.queries import chouaza_list
    from jichitai.tenancy.scope import current_municipality

    m = current_municipality()
    if m is None:
        return []
    cached = getattr(m, "_chouaza_master", None)
    if cached is None:
        cached = chouaza_list()
        m._chouaza_master = cached
    return cached


def _from_text(s: str) -> str:
    m = _CUT.search(s)
    head = s[: m.start()] if m else s
    return head.strip(" 　-－") or s


def district_of(address: str) -> str:
    s = (address or "").strip()
    if not s:
        return ""
    master = _master()
    if master:
        from jichitai.chouaza.normalize import kanji_of
        from jichitai.chouaza.queries import match_address

        hit = match_address(s, master)
        if hit.chouaza is not None:
            return hit.chouaza.name + (f"{kanji_of(hit.chome)}丁目" if hit.chome else "")
    return _from_text(s)
