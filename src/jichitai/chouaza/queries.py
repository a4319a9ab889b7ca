"""Tenant-scoped reads of the 町字 master."""
from dataclasses import dataclass

from .models import Chouaza
from .normalize import address_key


def chouaza_list():
    return list(Chouaza.objects.order_by("code"))


def get_chouaza(pk):
    from django.http import Http404

    try:
        return Chouaza.objects.get(pk=int(pk))
    except (Chouaza.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("no such 町字") from None


def has_master() -> bool:
    return Chouaza.objects.exists()


@dataclass
class Match:
    chouaza: Chouaza | None  # the 町字 the address begins with (longest name), None if none
    chome: int | None  # the 丁目 number, if the rest begins with one
    rest: str  # the normalised rest after 町字 and 丁目 (番地・号)


def match_address(address: str, master=None) -> Match:
    """Which 町字 of the master `address` (as typed or as stored) names. Derived, never stored."""
    import re

    key = address_key(address)
    rows = chouaza_list() if master is None else master
    best = None
    for c in rows:
        if key.startswith(c.name_key) and (best is None or len(c.name_key) > len(best.name_key)):
            best = c
    if best is None:
        return Match(None, None, key)
    rest = key[len(best.name_key):]
    m = re.match(r"(\d+)丁目", rest)
    if m:
        return Match(best, int(m.group(1)), rest[m.end():])
    return Match(best, None, rest)


def chouaza_choices(master=None) -> list[tuple[str, str]]:
    """The 町字 (with each 丁目 spelled out) a clerk picks from on a change form: value = label = the text."""
    from .normalize import kanji_of

    out = []
    for c in (chouaza_list() if master is None else master):
        if c.has_chome:
            for n in range(c.chome_from or 1, c.chome_to + 1):
                text = f"{c.name}{kanji_of(n)}丁目"
                out.append((text, text))
        else:
            out.append((c.name, c.name))
    return out
