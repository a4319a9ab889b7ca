"""Characters and readings of names (domain.md §7): MJ records, layered search keys, kana keys, legacy output.

Pure Python, no Django. Data under ./data (derived from @mandel59/mojidata; see data/PROVENANCE.md), loaded lazily.

    from jichitai import moji
    moji.name_keys("渡邊")        # ('渡邊', '渡邊', '渡辺', '渡辺')  exact, selector, degenerate, variant
    moji.kana_keys("さとう")      # ('サトウ', 'サト')                strict, loose
    moji.by_ucs("髙").juki        # 'J+9AD9'
    moji.degrade_for_legacy("髙橋", "jisx0208")  # ('高橋', [Change(0, '髙', '高', 'MJ縮退マップ: …')])
"""
from .chars import (  # noqa: F401
    GETA,
    LAYERS,
    TARGETS,
    Change,
    MJRecord,
    by_jisx0213,
    by_juki,
    by_koseki,
    by_mj,
    by_ucs,
    degenerate_key,
    degrade_for_legacy,
    encodable,
    exact_key,
    find_mj,
    ivs_collections,
    match_layer,
    name_keys,
    preload,
    selector_key,
    units,
    variant_key,
)
from .kana import is_kana, kana_key, kana_keys, loose_kana_key, name_key  # noqa: F401


def search_keys(name: str, reading: str = "") -> dict:
    """Every search key of a person's name and reading: the four name layers and the strict/loose kana keys."""
    e, s, d, v = name_keys(name)
    strict, loose = kana_keys(reading) if reading else ("", "")
    return {"exact": e, "selector": s, "degenerate": d, "variant": v, "kana": strict, "kana_loose": loose}
