"""Kana keys for matching readings (domain.md §7). Pure Python, no Django.

Hiragana, katakana and half-width katakana all fold to the same key. The strict key keeps every sound;
the loose key also merges ヴァ/バ, ヂ/ジ, small/large kana and long vowels (サトウ/サトー/サトオ).
Keys are derived for search only: the registered reading is always kept as typed.
"""
import unicodedata

_HIRA_TO_KATA = {c: c + 0x60 for c in range(0x3041, 0x3097)}
_HIRA_TO_KATA[0x309D] = 0x30FD  # ゝ → ヽ
_HIRA_TO_KATA[0x309E] = 0x30FE
_DROP = {ord(c): None for c in " \u3000・･=＝-‐"}


def kana_key(text: str) -> str:
    """Strict key: NFKC (half-width → full-width), hiragana → katakana, spaces and ・ dropped."""
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text)
    return s.translate(_HIRA_TO_KATA).translate(_DROP)


_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_VOICED_MERGE = str.maketrans({"ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヰ": "イ", "ヱ": "エ"})
_VU = [("ヴァ", "バ"), ("ヴィ", "ビ"), ("ヴェ", "ベ"), ("ヴォ", "ボ"), ("ヴュ", "ビュ"), ("ヴ", "ブ")]
_VOWEL_ROW = {}
for row, vowel in (
    ("アカサタナハマヤラワガザダバパャ", "ア"),
    ("イキシチニヒミリギジヂビピ", "イ"),
    ("ウクスツヌフムユルグズヅブプュ", "ウ"),
    ("エケセテネヘメレゲゼデベペ", "エ"),
    ("オコソトノホモヨロゴゾドボポョ", "オ"),
):
    for ch in row:
        _VOWEL_ROW[ch] = vowel


# per katakana: (what the loose key writes, the vowel it ends with — for the long-vowel rule)
_LOOSE = {}
for _c in range(0x30A1, 0x30FB):
    _ch = chr(_c)
    if _ch in "ァィゥェォャュョ":
        _LOOSE[_ch] = (_ch.translate(_SMALL), _VOWEL_ROW.get(_ch, ""))
    else:
        _l = _ch.translate(_SMALL)
        _LOOSE[_ch] = (_l, _VOWEL_ROW.get(_l, _l if _l in "アイウエオ" else ""))


def _loose_from_strict(s: str) -> str:
    if "ヴ" in s:
        for a, b in _VU:
            s = s.replace(a, b)
    s = s.translate(_VOICED_MERGE)
    out = []
    prev = ""
    get = _LOOSE.get
    for ch in s:
        if ch == "ー":
            continue
        if prev:
            # a lengthened vowel: サトウ = サトー = サトオ; エイ = エー
            if (ch == "ウ" or ch == "オ") and (prev == "ウ" or prev == "オ"):
                continue
            if ch == "イ" and prev == "エ":
                continue
        t = get(ch)
        if t is None:
            out.append(ch)
            prev = ""
        else:
            out.append(t[0])
            prev = t[1]
    return "".join(out)


def loose_kana_key(text: str) -> str:
    """Loose key: strict key, then ヴ-row → バ-row, ヂ→ジ, ヅ→ズ, ヲ→オ, ヰ→イ, ヱ→エ, small → large, and long
    vowels folded: ー, and ウ after an オ/ウ-row sound, オ after オ-row, イ after エ-row (トオル/トール/トウル,
    サトウ/サトー/サトオ, ケイコ/ケーコ all meet). Works from hiragana, katakana or half-width input."""
    return _loose_from_strict(kana_key(text))


def kana_keys(text: str) -> tuple[str, str]:
    """(strict, loose) keys of a reading in one pass."""
    strict = kana_key(text)
    return strict, _loose_from_strict(strict)


def is_kana(text: str) -> bool:
    s = kana_key(text)
    return bool(s) and all(0x30A0 <= ord(c) <= 0x30FF for c in s)


def name_key(text: str) -> str:
    """Key for a written name: spaces dropped, nothing else touched (no NFC/NFKC: registered forms are kept)."""
    return (text or "").replace(" ", "").replace("\u3000", "")
