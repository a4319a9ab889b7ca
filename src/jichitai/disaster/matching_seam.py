"""The one place the disaster app calls the matcher (#12 item 3, built by another part in `jichitai.matching`).

`match(municipality, rows, reader)` returns one `MatchResult` per row. When `jichitai.matching.api.match_rows`
exists it is used as it is; until then (and on a branch without it) a simple fallback runs: exact written name
(spaces ignored) or exact reading, then the birth date when one was given. The fallback decides 自動確定 ('auto')
only for exactly one candidate with the same name AND the same full birth date; a name or reading match without a
full birth date is 要確認 ('review'); nothing is 該当なし ('none'). It is deliberately conservative: it never
confirms namesakes.

Rows are dicts with `name`, `kana`, `birth` (text as written), `sex`, `address`, optional `group`, `evacuee_id`.
Candidates are dicts: person_id, atena_no, resident_code, score, reasons (Japanese).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from jichitai.common.wareki import DateInputError, parse_date
from jichitai.moji.kana import kana_key, name_key


@dataclass
class MatchResult:
    decision: str  # 'auto' | 'review' | 'none'
    candidates: list = field(default_factory=list)
    duplicate_group: str | None = None


def _real_matcher():
    try:
        from jichitai.matching.api import match_rows  # type: ignore
    except ImportError:
        return None
    return match_rows


def match(municipality, rows: list[dict], reader) -> list[MatchResult]:
    real = _real_matcher()
    if real is not None:
        out = real(municipality, rows, reader=reader)
        return [r if isinstance(r, MatchResult) else MatchResult(
            decision=getattr(r, "decision"), candidates=[_cand(c) for c in getattr(r, "candidates", [])],
            duplicate_group=getattr(r, "duplicate_group", None)) for r in out]
    return _fallback(municipality, rows)


def _cand(c):
    if isinstance(c, dict):
        return c
    return {k: getattr(c, k, None) for k in ("person_id", "atena_no", "resident_code", "score", "reasons")}


def birth_of(text: str) -> dt.date | None:
    """A full birth date if the text is one (西暦 or 和暦), else None (a year only, an age, empty)."""
    if not (text or "").strip():
        return None
    try:
        return parse_date(text)
    except DateInputError:
        return None


def _fallback(municipality, rows):
    from jichitai.residents.models import Person, Status

    names = {name_key(r.get("name") or "") for r in rows} - {""}
    kanas = {kana_key(r.get("kana") or "") for r in rows} - {""}
    found = {}
    if names or kanas:
        qs = Person.objects.filter(status=Status.RESIDENT)
        from django.db.models import Q

        q = Q(name_key__in=list(names)) if names else Q(pk__in=[])
        if kanas:
            q |= Q(kana_key__in=list(kanas))
        for p in qs.filter(q).values("pk", "atena_no", "resident_code", "name_key", "kana_key", "birth_date",
                                     "sex"):
            found[p["pk"]] = p
    by_name, by_kana = {}, {}
    for p in found.values():
        by_name.setdefault(p["name_key"], []).append(p)
        by_kana.setdefault(p["kana_key"], []).append(p)
    out = []
    for r in rows:
        nk, kk, birth = name_key(r.get("name") or ""), kana_key(r.get("kana") or ""), birth_of(r.get("birth"))
        cands = {}
        for p in by_name.get(nk, []) if nk else []:
            cands[p["pk"]] = (p, ["氏名が完全一致"])
        for p in by_kana.get(kk, []) if kk else []:
            if p["pk"] in cands:
                cands[p["pk"]][1].append("フリガナが一致")
            else:
                cands[p["pk"]] = (p, ["フリガナが一致（氏名は不一致）"])
        ranked = []
        for p, reasons in cands.values():
            score = 0.5 if "氏名が完全一致" in reasons else 0.3
            if birth is not None:
                if p["birth_date"] == birth:
                    score += 0.45
                    reasons.append("生年月日が一致")
                else:
                    score -= 0.3
                    reasons.append("生年月日が不一致")
            else:
                reasons.append("生年月日の記入なし（照合できません）")
            if r.get("sex") and r["sex"] == p["sex"]:
                score += 0.05
            ranked.append({"person_id": p["pk"], "atena_no": p["atena_no"], "resident_code": p["resident_code"],
                           "score": round(max(score, 0.0), 3), "reasons": reasons})
        ranked = [c for c in ranked if c["score"] > 0.2]
        ranked.sort(key=lambda c: (-c["score"], c["person_id"]))
        strong = [c for c in ranked if "氏名が完全一致" in c["reasons"] and "生年月日が一致" in c["reasons"]]
        if len(strong) == 1 and (len(ranked) == 1 or ranked[1]["score"] < strong[0]["score"]):
            decision = "auto"
        elif ranked:
            decision = "review"
        else:
            decision = "none"
        out.append(MatchResult(decision=decision, candidates=ranked[:5]))
    return out
