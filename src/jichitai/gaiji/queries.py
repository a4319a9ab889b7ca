"""Reads of the 外字 registry (scoped to the current municipality)."""
from django.db.models import Count
from django.http import Http404

from jichitai import moji

from .models import GaijiMapping, Status


def get_mapping(mapping_id) -> GaijiMapping:
    try:
        return GaijiMapping.objects.select_related("reviewer").get(pk=mapping_id)
    except (GaijiMapping.DoesNotExist, ValueError, TypeError):
        raise Http404("no such mapping") from None


def mappings(status: str = ""):
    qs = GaijiMapping.objects.select_related("reviewer").defer("glyph_png").order_by("status", "sjis_code", "id")
    return qs.filter(status=status) if status else qs


def status_counts() -> dict:
    counts = dict(GaijiMapping.objects.values_list("status").annotate(n=Count("id")))
    return {s.value: counts.get(s.value, 0) for s in Status}


def approved_table(vendor: str = "") -> dict[str, str]:
    """Private-use character → approved MJ text, for migration. Unapproved codes are absent (held)."""
    rows = GaijiMapping.objects.filter(status=Status.APPROVED, vendor=vendor).values_list("pua_char", "mapped_text")
    return dict(rows)


def candidates(mapping: GaijiMapping) -> list:
    """MJ candidates suggested by the vendor's code-table references (住基 / 戸籍)."""
    out = []
    for finder, code in ((moji.by_juki, mapping.vendor_juki_code), (moji.by_koseki, mapping.vendor_koseki_no)):
        rec = finder(code) if code else None
        if rec is not None and rec.mj not in {r.mj for r in out}:
            out.append(rec)
    if mapping.mj_name and mapping.mj_name not in {r.mj for r in out}:
        rec = moji.by_mj(mapping.mj_name)
        if rec is not None:
            out.append(rec)
    return out


def search_mj(*, code="", reading="", radical=None, strokes=None, limit=60) -> list:
    """The review screen's MJ search: by code (MJ文字図形名, U+XXXX, J+XXXX, 戸籍統一文字番号, 面区点, or the
    character itself), by reading, or by radical and strokes."""
    code = (code or "").strip()
    if code:
        up = code.upper()
        if up.startswith("MJ"):
            rec = moji.by_mj(up)
            return [rec] if rec else []
        if up.startswith("J+"):
            rec = moji.by_juki(up)
            return [rec] if rec else []
        if up.startswith("U+"):
            try:
                rec = moji.by_ucs(chr(int(up[2:], 16)))
            except ValueError:
                return []
            return [rec] if rec else []
        if up.isdigit():
            rec = moji.by_koseki(up)
            return [rec] if rec else []
        if up.count("-") == 2:
            return moji.by_jisx0213(up)[:limit]
        rec = moji.by_ucs(code)
        return [rec] if rec else []
    if reading or radical or strokes:
        return moji.find_mj(reading=reading or None, radical=radical, strokes=strokes, limit=limit)
    return []
