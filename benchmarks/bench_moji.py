"""Benchmark of jichitai.moji: every search key of 1,000,000 synthetic names on ONE core.

    .venv/bin/python benchmarks/bench_moji.py [--n 1000000] [--seed 7]

Names come from the `gimei` package data (gimei/data/names.yml: kanji + katakana readings). About 12 % of
the names get variant characters (髙, 﨑, 邊, 𠮷, 齋, 澤, 濱 …), compatibility ideographs (U+FA19 神 …) or IVS
sequences (葛 U+E0100, 辻 U+E0102 …); readings are mixed katakana / hiragana / half-width with long-vowel
spellings. Per name the benchmark computes moji.name_keys (exact, selector, degenerate, variant) and
moji.kana_keys (strict, loose). The last line printed is one JSON object.
"""
import argparse
import json
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

TARGET_SECONDS = 20.0
TARGET_LOAD_SECONDS = 0.5

# common character → forms seen in registers (old forms, 俗字, compatibility ideographs, IVS)
VARIANTS = {
    "高": ["髙"], "崎": ["﨑", "嵜"], "辺": ["邊", "邉"], "吉": ["𠮷"], "斎": ["齋", "齋\U000E0104"], "斉": ["齊"],
    "沢": ["澤"], "浜": ["濱", "濵"], "広": ["廣"], "国": ["國"], "桜": ["櫻"], "島": ["嶋", "嶌"], "徳": ["德"],
    "恵": ["惠"], "栄": ["榮"], "竜": ["龍"], "蔵": ["藏"], "滝": ["瀧"], "富": ["冨"], "峰": ["峯"], "槙": ["槇"],
    "神": ["\uFA19"], "福": ["\uFA1B"], "塚": ["\uFA10"], "隆": ["\uF9DC"], "祐": ["\uFA4F"], "都": ["\uFA26"],
    "葛": ["葛\U000E0100", "葛\U000E0102"], "辻": ["辻\U000E0100", "辻\U000E0102"], "実": ["實"], "真": ["眞"],
    "寿": ["壽"], "礼": ["禮"], "恒": ["恆"], "桧": ["檜"], "渕": ["淵"], "籠": ["篭"], "館": ["舘"],
}


def log(*a):
    print(*a, flush=True)


def load_gimei():
    import gimei
    import yaml

    path = Path(gimei.__file__).parent / "data" / "names.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    last = [(k, kata) for k, _h, kata in data["last_name"]]
    first = [(k, kata) for sex in ("male", "female") for k, _h, kata in data["first_name"][sex]]
    return last, first, path


_HIRA = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}
_HALF = None


def reading_form(kata: str, rnd: random.Random) -> str:
    global _HALF
    x = rnd.random()
    if x < 0.15:
        return kata.translate(_HIRA)
    if x < 0.22:
        if _HALF is None:
            import jaconv

            _HALF = jaconv.z2h
        return _HALF(kata, kana=True, digit=False, ascii=False)
    if x < 0.30:
        return kata.replace("ウ", "ー", 1) if "ウ" in kata else kata
    return kata


def make_names(n: int, seed: int):
    last, first, path = load_gimei()
    rnd = random.Random(seed)
    names, readings = [], []
    n_variant = 0
    for _ in range(n):
        lk, lr = rnd.choice(last)
        fk, fr = rnd.choice(first)
        name = f"{lk} {fk}" if rnd.random() < 0.5 else f"{lk}\u3000{fk}"
        if rnd.random() < 0.12:
            chars = [rnd.choice(VARIANTS[c]) if c in VARIANTS and rnd.random() < 0.8 else c for c in name]
            new = "".join(chars)
            if new == name:  # no replaceable character: prepend a variant surname
                new = rnd.choice(["髙橋", "山﨑", "渡邊", "𠮷田", "齋藤", "葛\U000E0100西", "\uFA19田"]) + name[len(lk):]
            name = new
            n_variant += 1
        names.append(name)
        readings.append(reading_form(lr, rnd) + " " + reading_form(fr, rnd))
    return names, readings, n_variant, len(last), len(first), path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        core = "pinned to one CPU (sched_setaffinity)"
    except (AttributeError, OSError):
        core = "single process, single thread"

    t0 = time.perf_counter()
    names, readings, n_variant, n_last, n_first, path = make_names(args.n, args.seed)
    gen_s = time.perf_counter() - t0
    log(f"generated {len(names):,} names ({n_variant:,} with variant characters/IVS) in {gen_s:.1f} s "
        f"from {n_last:,} surnames × {n_first:,} given names")

    t0 = time.perf_counter()
    from jichitai import moji

    moji.preload()
    load_s = time.perf_counter() - t0
    log(f"key tables loaded in {load_s * 1000:.0f} ms")
    t0 = time.perf_counter()
    moji.by_mj("MJ000001")
    load_mj_s = time.perf_counter() - t0
    log(f"MJ records loaded in {load_mj_s * 1000:.0f} ms")

    name_keys, kana_keys = moji.name_keys, moji.kana_keys
    step = max(1, len(names) // 10)
    t0 = time.perf_counter()
    n_diff = 0
    for i in range(len(names)):
        k = name_keys(names[i])
        kana_keys(readings[i])
        if k[0] != k[3]:
            n_diff += 1
        if (i + 1) % step == 0:
            log(f"  {i + 1:>9,} names  {time.perf_counter() - t0:6.2f} s")
    total_s = time.perf_counter() - t0

    # the same, per name part (氏 and 名 keyed separately, as a register stores them)
    parts = [n.replace("\u3000", " ").split(" ", 1) for n in names[:200_000]]
    rparts = [r.split(" ", 1) for r in readings[:200_000]]
    t0 = time.perf_counter()
    for (a, b), (ra, rb) in zip(parts, rparts):
        name_keys(a), name_keys(b), kana_keys(ra), kana_keys(rb)
    parts_us = (time.perf_counter() - t0) / len(parts) * 1e6

    # each part alone (where does the time go)
    sample = names[:200_000]
    rsample = readings[:200_000]
    t0 = time.perf_counter()
    for s in sample:
        name_keys(s)
    nk_us = (time.perf_counter() - t0) / len(sample) * 1e6
    t0 = time.perf_counter()
    for s in rsample:
        kana_keys(s)
    kk_us = (time.perf_counter() - t0) / len(rsample) * 1e6

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    met = total_s <= TARGET_SECONDS and load_s <= TARGET_LOAD_SECONDS
    log(f"all keys of {len(names):,} names: {total_s:.2f} s ({total_s / len(names) * 1e6:.2f} µs/name); "
        f"name_keys {nk_us:.2f} µs, kana_keys {kk_us:.2f} µs; per part (氏/名 separately) {parts_us:.2f} µs/person")
    print(json.dumps({
        "name": "moji",
        "dataset": f"{len(names):,} synthetic names from gimei {path.name} ({n_last} surnames × {n_first} given "
                   f"names, seed {args.seed}); {n_variant:,} with variant characters, compatibility ideographs "
                   f"or IVS; readings mixed katakana/hiragana/half-width",
        "figures": {
            "names": len(names),
            "total_s": round(total_s, 2),
            "us_per_name": round(total_s / len(names) * 1e6, 2),
            "name_keys_us": round(nk_us, 2),
            "kana_keys_us": round(kk_us, 2),
            "per_person_parts_us": round(parts_us, 2),
            "names_with_variant_key_differing": n_diff,
            "load_keys_ms": round(load_s * 1000, 1),
            "load_mj_records_ms": round(load_mj_s * 1000, 1),
            "max_rss_mb": round(rss_mb, 1),
            "generation_s": round(gen_s, 1),
            "core": core,
            "python": platform.python_version(),
        },
        "targets": {
            "total_s": {"target": TARGET_SECONDS, "measured": round(total_s, 2), "met": total_s <= TARGET_SECONDS},
            "load_keys_s": {"target": TARGET_LOAD_SECONDS, "measured": round(load_s, 3),
                            "met": load_s <= TARGET_LOAD_SECONDS},
        },
        "met": met,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
