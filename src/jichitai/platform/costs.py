"""割り勘 statements: today's costs, measured use and weights (settings) → each municipality's share, beside a
standalone-system estimate. Reads through queries / engine; the arithmetic is `allocation` (pure)."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from . import allocation, engine, queries

RULE_LABELS = {"equal": "均等割", "population": "人口割", "usage": "利用割"}
ROUNDING_RULE = ("端数処理: 費用の項目ごとに、各団体の按分額（分数で正確に計算）の円未満を切り捨て、残った円を端数の大きい"
                 "団体から1円ずつ配分します（最大剰余法。同じ端数は地方公共団体コードの小さい団体から）。このため各項目"
                 "の負担額の合計は項目の年額と、全団体の負担額の合計は年間費用の総額と、1円の差もなく一致します。")


def weights() -> dict:
    return {k: engine.effective(f"platform.usage_weight_{k}") for k in allocation.MEASURES}


def standalone_estimate(residents: int) -> int:
    """What the municipality would pay alone: a fixed cost plus a cost per resident (both settings)."""
    return (engine.effective("platform.standalone_base_yen")
            + engine.effective("platform.standalone_per_resident_yen") * residents)


@dataclass
class Statement:
    municipality: object
    fiscal_year: int
    lines: list
    measures: dict
    totals: dict  # measure totals over all municipalities
    weights: dict
    share: int
    standalone: int
    grand_total: int
    rounding_rule: str = ROUNDING_RULE
    extra: dict = field(default_factory=dict)

    @property
    def saving(self) -> int:
        return self.standalone - self.share

    @property
    def saving_percent(self) -> float:
        return 100.0 * self.saving / self.standalone if self.standalone else 0.0


def allocate_year(fy: int):
    """(items, {municipality: [Line]}, measures, weights)."""
    items = queries.cost_items(fy)
    measures = queries.usage_measures(fy)
    w = weights()
    by_code = {m.code: m for m in measures}  # allocation keys are codes: the tie-break is the smaller code
    lines = allocation.allocate([(i.pk, i.label, i.get_category_display(), i.rule, i.amount_yen) for i in items],
                                {m.code: v for m, v in measures.items()}, w)
    return items, {by_code[c]: v for c, v in lines.items()}, measures, w


def statements(fy: int) -> list[Statement]:
    items, lines, measures, w = allocate_year(fy)
    grand = sum(i.amount_yen for i in items)
    totals = {k: sum(v[k] for v in measures.values()) for k in allocation.MEASURES}
    out = []
    for m in sorted(measures, key=lambda m: m.code):
        share = sum(x.share for x in lines[m])
        out.append(Statement(m, fy, lines[m], measures[m], totals, w, share,
                             standalone_estimate(measures[m]["residents"]), grand))
    return out


def statement_for(fy: int, municipality) -> Statement | None:
    for s in statements(fy):
        if s.municipality.pk == municipality.pk:
            return s
    return None


def percent(f: Fraction) -> str:
    return f"{float(f) * 100:.2f}%"
