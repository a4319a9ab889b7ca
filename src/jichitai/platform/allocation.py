"""割り勘: dividing each annual cost among the municipalities, exactly, in whole yen. Pure Python (no Django).

Rules: 均等割 (equal shares), 人口割 (by residents), 利用割 (by measured use: residents, certificates, API calls,
storage, each measure weighted by a setting; a measure nobody used drops out and the others are re-weighted).

Rounding rule (stated on every statement): each cost item is divided separately by the largest-remainder method in
yen — every municipality gets the floor of its exact share (computed with fractions, no floating point), and the
yen left over go one each to the largest remainders, ties to the smaller 地方公共団体コード. So every item's shares
add up to the item exactly, and the statement totals add up to the annual total exactly."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

MEASURES = ("residents", "certificates", "api_calls", "storage")
MEASURE_LABELS = {"residents": "住民数", "certificates": "証明書発行数", "api_calls": "API呼出し数",
                  "storage": "保存データ量（行）"}


def largest_remainder(total: int, weights: dict) -> dict:
    """{key: yen} summing to `total` exactly, proportional to `weights` ({key: non-negative number}); keys are
    sorted for the tie-break. All-zero weights fall back to equal shares."""
    if total < 0:
        raise ValueError("total must be >= 0")
    keys = sorted(weights)
    if not keys:
        return {}
    ws = {k: Fraction(weights[k]) for k in keys}
    if any(w < 0 for w in ws.values()):
        raise ValueError("weights must be >= 0")
    s = sum(ws.values())
    if s == 0:
        ws = {k: Fraction(1) for k in keys}
        s = Fraction(len(keys))
    exact = {k: total * ws[k] / s for k in keys}
    out = {k: int(exact[k]) for k in keys}  # floor (non-negative)
    left = total - sum(out.values())
    for k in sorted(keys, key=lambda k: (-(exact[k] - out[k]), k))[:left]:
        out[k] += 1
    return out


def usage_shares(measures: dict, weights: dict) -> dict:
    """{municipality: Fraction share of 利用割}. measures: {municipality: {measure: amount}}; weights: {measure: %}."""
    munis = sorted(measures)
    totals = {k: sum(measures[m].get(k, 0) for m in munis) for k in MEASURES}
    active = {k: Fraction(weights.get(k, 0)) for k in MEASURES if totals[k] > 0 and weights.get(k, 0) > 0}
    wsum = sum(active.values())
    if not munis:
        return {}
    if wsum == 0:
        return {m: Fraction(1, len(munis)) for m in munis}
    return {m: sum(active[k] * Fraction(measures[m].get(k, 0), totals[k]) for k in active) / wsum for m in munis}


@dataclass
class Line:
    item_id: object
    label: str
    category: str
    rule: str
    amount: int  # the item's annual amount
    share: int  # this municipality's yen
    basis: Fraction  # exact share before rounding

    @property
    def basis_percent(self) -> str:
        return f"{float(self.basis) * 100:.3f}%"


def allocate(items, measures: dict, weights: dict) -> dict:
    """{municipality: [Line]} for items [(id, label, category, rule, amount)]; municipalities are measures' keys."""
    munis = sorted(measures)
    basis = {"equal": {m: Fraction(1, len(munis)) for m in munis} if munis else {},
             "population": {m: Fraction(measures[m].get("residents", 0)) for m in munis},
             "usage": usage_shares(measures, weights)}
    pop_total = sum(basis["population"].values())
    if pop_total:
        basis["population"] = {m: v / pop_total for m, v in basis["population"].items()}
    else:
        basis["population"] = basis["equal"]
    out = {m: [] for m in munis}
    for item_id, label, category, rule, amount in items:
        shares = largest_remainder(amount, basis[rule])
        for m in munis:
            out[m].append(Line(item_id, label, category, rule, amount, shares[m], basis[rule][m]))
    return out
