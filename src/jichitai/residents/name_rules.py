"""What a registered name and its reading may hold (issue #10 item 5). Pure checks, Japanese messages.

- **Characters** (`name_char_errors`): every character of a name is a character of the MJ table (文字情報基盤,
  `jichitai.moji`; a base character with its IVS counts as one character and is looked up with its selector),
  hiragana or katakana, one of the symbols a registered name uses (々 〆 ヶ ゝ ゞ ヽ ヾ ー ・ and the full-width
  space), or — for a foreign resident's name in the alphabet — Latin letters with space, hyphen, apostrophe, comma
  and full stop. Anything else (「<」, digits, emoji, private-use 外字) is refused with the characters named.
- **Lengths** (`NAME_MAX`, `KANA_MAX`): neither domain.md, docs/standard-layout.md nor the seed gives field lengths,
  so the limits are this project's, chosen below the register's columns (60 / 120) and to be checked against the
  住民記録システム標準仕様書's データ要件 before production (unverified): 氏・名・旧氏・通称・筆頭者 30 characters each
  (IVS sequences count once), each フリガナ 50 characters.
- **Readings** (`reading_errors`): katakana only (hiragana is accepted on the form and stored as katakana).
- **Likely readings** (`reading_warnings`): a warning — never a refusal — when a reading cannot be read from the
  MJ table's readings (音・訓) of the kanji in order, allowing 連濁 (カ→ガ), 促音 (ツ→ッ), 々 and okurigana-less
  訓. Given names often have 名乗り readings that the table lacks: that is why it only warns.
"""
import unicodedata

from jichitai import moji
from jichitai.moji.kana import kana_key

NAME_FIELDS = {"family_name": "氏", "given_name": "名", "former_family_name": "旧氏", "alias_name": "通称",
               "hittosha": "筆頭者"}
KANA_FIELDS = {"family_name_kana": "氏フリガナ", "given_name_kana": "名フリガナ",
               "former_family_name_kana": "旧氏フリガナ", "alias_name_kana": "通称フリガナ"}
READING_OF = {"family_name": "family_name_kana", "given_name": "given_name_kana",
              "former_family_name": "former_family_name_kana", "alias_name": "alias_name_kana"}
NAME_MAX = 30
KANA_MAX = 50

NAME_SYMBOLS = set("々〆ヶゝゞヽヾー・\u3000")
LATIN_SYMBOLS = set(" -'.,")


def _is_kana(ch):
    return 0x3041 <= ord(ch) <= 0x3096 or 0x30A1 <= ord(ch) <= 0x30FA


def _is_latin(ch):
    c = unicodedata.normalize("NFKC", ch)
    return len(c) == 1 and ("A" <= c <= "Z" or "a" <= c <= "z")


def char_allowed(unit: str) -> bool:
    base = unit[0]
    if len(unit) == 1 and (_is_kana(base) or base in NAME_SYMBOLS or _is_latin(base) or base in LATIN_SYMBOLS):
        return True
    if moji.by_ucs(unit) is not None:
        return True
    # a base character of the MJ table with a variation sequence registered in the IVD (Adobe-Japan1,
    # Hanyo-Denshi …) or a standardized variant: a registered form of an MJ character
    return len(unit) > 1 and moji.by_ucs(unit[0]) is not None and bool(moji.ivs_collections(unit))


def name_char_errors(text: str) -> list[str]:
    bad = [u for u in moji.units(text) if not char_allowed(u)] if text else []
    if not bad:
        return []
    shown = "、".join(dict.fromkeys(f"「{u}」" if u.isprintable() and not u.isspace() else f"U+{ord(u[0]):04X}"
                                    for u in bad))
    return [f"氏名に使えない文字が含まれています: {shown}。MJ文字（文字情報基盤）の漢字、かな、"
            f"氏名に使う記号（々・ー など）、外国人住民はアルファベットで入力してください"]


def _length(text: str) -> int:
    return len(moji.units(text))


def name_errors(values: dict) -> dict:
    """{field: [messages]} for the names and readings present in `values`."""
    errors = {}
    for f, label in NAME_FIELDS.items():
        text = values.get(f) or ""
        if not text:
            continue
        msgs = name_char_errors(text)
        if _length(text) > NAME_MAX:
            msgs.append(f"{label}は{NAME_MAX}文字以内で入力してください（{_length(text)}文字）")
        if msgs:
            errors[f] = msgs
    for f, label in KANA_FIELDS.items():
        msgs = reading_errors(values.get(f) or "", label)
        if msgs:
            errors[f] = msgs
    return errors


def reading_errors(text: str, label: str = "フリガナ") -> list[str]:
    if not text:
        return []
    k = kana_key(text)
    msgs = []
    if not k or not all(0x30A1 <= ord(c) <= 0x30FA or c == "ー" for c in k):
        msgs.append(f"{label}はカタカナで入力してください")
    if len(k) > KANA_MAX:
        msgs.append(f"{label}は{KANA_MAX}文字以内で入力してください（{len(k)}文字）")
    return msgs


# ---------------------------------------------------------------- likely readings (warnings only)

_VOICE = str.maketrans("カキクケコサシスセソタチツテトハヒフヘホ", "ガギグゲゴザジズゼゾダヂヅデドバビブベボ")
_HALF = str.maketrans("ハヒフヘホ", "パピプペポ")


def _readings(unit: str) -> set[str]:
    r = moji.by_ucs(unit) or moji.by_ucs(unit[0])
    out = set()
    for y in (r.readings if r else ()):
        k = kana_key(y)
        out.add(k)
        if y and "ぁ" <= y[0] <= "ゖ" and len(k) >= 3:  # 訓 listed with okurigana (たかい → タカ, タカイ)
            out.update({k[:-1], k[:-2]})
    variants = set()
    for k in out:
        if not k:
            continue
        variants.add(k[0].translate(_VOICE) + k[1:])  # 連濁
        variants.add(k[0].translate(_HALF) + k[1:])
        if k[-1] in "ツチキクイ" and len(k) > 1:
            variants.add(k[:-1] + "ッ")  # 促音
    return {k for k in out | variants if k}


def reading_plausible(name: str, reading: str) -> bool:
    """Whether `reading` can be read from `name`'s characters (see the module docstring). Names that are not
    kanji (kana, alphabet) are not judged."""
    units = moji.units(name)
    target = kana_key(reading)
    if not units or not target or any(_is_latin(u[0]) for u in units):
        return True
    options = []
    prev = set()
    for u in units:
        if _is_kana(u[0]):
            opts = {kana_key(u)}
        elif u[0] in "々ゝヽ":
            opts = prev | {o[0].translate(_VOICE) + o[1:] for o in prev if o}
        elif u[0] in "ー・":
            opts = {u[0], ""}
        else:
            opts = _readings(u)
            if not opts:  # no reading known for this character: nothing to judge
                return True
        options.append(opts)
        prev = opts
    reach = {0}
    for opts in options:
        reach = {i + len(o) for i in reach for o in opts if target.startswith(o, i)}
        if not reach:
            return False
    return len(target) in reach


def reading_warnings(values: dict) -> list[str]:
    """Warnings (not refusals) for readings unlikely for their kanji, for the confirmation page."""
    out = []
    for f, kf in READING_OF.items():
        name, reading = values.get(f) or "", values.get(kf) or ""
        if name and reading and not name_char_errors(name) and not reading_plausible(name, reading):
            out.append(f"{NAME_FIELDS[f]}「{name}」の読み「{kana_key(reading)}」は、文字の読み（MJ文字情報の音訓）から"
                       f"組み立てられません。届出のとおりか確認してください（登録はできます）")
    return out
