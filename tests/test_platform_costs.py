"""割り勘: shares add up to each item and to the total exactly (largest remainder in yen), by rule, with weights as
settings; the statement screen and the standalone estimate."""
import random
from fractions import Fraction

import pytest

from conftest import client_for
from jichitai.platform import actions, allocation, costs, engine
from jichitai.platform.engine import Tier
from jichitai.platform.models import CostItem


def test_largest_remainder_is_exact_and_breaks_ties_by_code():
    assert allocation.largest_remainder(100, {"b": 1, "a": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert allocation.largest_remainder(10, {"a": 0, "b": 0}) == {"a": 5, "b": 5}
    assert allocation.largest_remainder(0, {"a": 3}) == {"a": 0}
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(1, 12)
        ws = {f"{i:05d}": rng.choice([0, rng.randint(1, 10**6), Fraction(rng.randint(1, 99), rng.randint(1, 99))])
              for i in range(n)}
        total = rng.randint(0, 10**10)
        out = allocation.largest_remainder(total, ws)
        assert sum(out.values()) == total
        s = sum(Fraction(w) for w in ws.values())
        for k, w in ws.items():
            exact = total * Fraction(w) / s if s else Fraction(total, n)
            assert abs(out[k] - exact) < 1  # never more than one yen from the exact share
    with pytest.raises(ValueError):
        allocation.largest_remainder(-1, {"a": 1})


def test_allocate_by_rule_and_weights():
    measures = {"A": {"residents": 700, "certificates": 10, "api_calls": 0, "storage": 50},
                "B": {"residents": 300, "certificates": 30, "api_calls": 0, "storage": 50}}
    items = [(1, "DC", "dc", "equal", 1_000_001), (2, "lic", "lic", "population", 999_999),
             (3, "ops", "ops", "usage", 1_234_567)]
    w = {"residents": 50, "certificates": 50, "api_calls": 20, "storage": 0}  # api unused: drops out
    out = allocation.allocate(items, measures, w)
    a, b = ({x.item_id: x.share for x in out[k]} for k in ("A", "B"))
    assert (a[1], b[1]) == (500_001, 500_000)
    assert (a[2], b[2]) == (699_999, 300_000)  # 699,999.3 and 299,999.7: the left-over yen to B
    # usage share of A = (50*0.7 + 50*0.25) / 100 = 0.475
    assert a[3] == 586_419 and a[3] + b[3] == 1_234_567  # 1,234,567 × 0.475 = 586,419.325
    assert sum(x.share for x in out["A"] + out["B"]) == sum(i[4] for i in items)


@pytest.fixture
def year(munis, staff):
    op = staff["operator"]
    for cat, label, amount, rule in [("data_centre", "データセンター利用料", 48_000_001, "equal"),
                                     ("licences", "パッケージ使用料", 31_500_000, "population"),
                                     ("operations", "運用保守", 22_777_777, "usage"),
                                     ("development", "標準追加の開発", 9_999_999, "equal")]:
        actions.add_cost_item(op, fiscal_year=2026, category=cat, label=label, amount_yen=amount, rule=rule)
    return 2026


def test_statements_add_up_to_the_total_exactly_and_show_the_saving(year, munis, staff):
    sts = costs.statements(year)
    total = sum(i.amount_yen for i in CostItem.objects.filter(fiscal_year=year))
    assert len(sts) == 2 and sum(s.share for s in sts) == total == 112_277_777
    for item in CostItem.objects.all():
        assert sum(x.share for s in sts for x in s.lines if x.item_id == item.pk) == item.amount_yen
    s = sts[0]
    assert s.standalone == 38_000_000 and s.saving == s.standalone - s.share


def test_weights_and_estimate_are_settings(year, munis, staff):
    op = staff["operator"]
    engine.set_value(op, "platform.standalone_base_yen", "50,000,000", tier=Tier.STANDARD)
    assert costs.statements(year)[0].standalone == 50_000_000
    engine.set_value(op, "platform.usage_weight_storage", 0, tier=Tier.STANDARD)
    assert costs.weights()["storage"] == 0


def test_bad_cost_items_are_refused_with_messages_and_nothing_written(munis, staff):
    with pytest.raises(actions.PlatformError) as e:
        actions.add_cost_item(staff["operator"], fiscal_year="令和8", category="x", label="", amount_yen="-5",
                              rule="random")
    assert set(e.value.errors) == {"fiscal_year", "category", "label", "amount_yen", "rule"}
    with pytest.raises(Exception):
        actions.add_cost_item(staff["admin_a"], fiscal_year=2026, category="licences", label="x", amount_yen=1,
                              rule="equal")
    assert not CostItem.objects.exists()


def test_statement_screens(year, munis, staff):
    a, b = munis
    body = client_for(staff["operator"]).get("/platform/costs/?year=2026").content.decode()
    assert "112,277,777円" in body and "<svg" in body and "最大剰余法" in body
    c = client_for(staff["admin_a"])
    r = c.get("/platform/statement/?year=2026")
    text = r.content.decode()
    assert r.status_code == 200 and "日田市" in text and "単独調達の見積り" in text
    assert c.get(f"/platform/costs/2026/{b.code}/").status_code == 404  # another municipality's statement
    assert client_for(staff["clerk_a"]).get("/platform/statement/").status_code == 403


def test_statement_as_pdf(year, munis, staff):
    from io import BytesIO

    from pypdf import PdfReader

    r = client_for(staff["admin_a"]).get("/platform/statement/?year=2026&format=pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(r.content)).pages)
    share = costs.statement_for(2026, munis[0]).share
    assert "共同利用負担金の明細" in text.replace(" ", "") and f"負担額\u3000{share:,}円" in text
