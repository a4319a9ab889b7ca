"""Demo content for the 避難行動要支援者名簿 and the 被災者台帳 (synthetic only), through the real actions (audited).

Idempotent, so that it can run after another part of the seed: persons already on the 名簿 are skipped, a disaster
already declared for the municipality is used as it is (one is declared only if none is open), and a ledger that
already has an assessment gets no second one.
"""
import datetime as dt
import random

from django.utils import timezone

from jichitai.disaster import actions as disaster_actions
from jichitai.disaster import queries as disaster_queries
from jichitai.disaster import support_actions as sa
from jichitai.disaster import support_queries as sq
from jichitai.disaster.models.support import VulnerablePerson
from jichitai.residents.models import Household, Person, Status
from jichitai.tenancy.scope import tenant_scope

DEMO_TERMINAL = "demo-seed"
DISASTER_NAME = "令和8年12月豪雨（デモ）"
SUPPORTER_KINDS = ("welfare_commissioner", "voluntary_org", "fire_corps", "social_welfare_council")
FAMILY = ("佐藤", "高倉", "梶原", "財津", "穴井", "森山")
GIVEN = ("和子", "誠", "節子", "勝", "久美子", "博")


def _supporter(kind, m, district, rng):
    n = rng.randint(1, 9)
    if kind == "welfare_commissioner":
        return f"{rng.choice(FAMILY)}　{rng.choice(GIVEN)}", f"090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
    if kind == "voluntary_org":
        return f"{district}自主防災会", f"0973-2{n}-2000"
    if kind == "fire_corps":
        return f"{m.name}消防団 第{n}分団", f"0973-2{n}-3000"
    return f"{m.name}社会福祉協議会", "0973-22-4000"
PROFILES = [
    {"care_level": "care4", "plan_notes": "車いす。寝室は1階"},
    {"care_level": "care3", "plan_notes": "認知症。声掛けは家族名で"},
    {"physical_disability_grade": 1, "disability_type": "visual", "plan_notes": "全盲。誘導が必要"},
    {"physical_disability_grade": 2, "disability_type": "hearing", "plan_notes": "筆談で連絡"},
    {"physical_disability_grade": 1, "disability_type": "limb", "plan_notes": "ストレッチャーが必要"},
    {"intellectual_disability": "A", "plan_notes": "大きな音が苦手"},
    {"mental_disability_grade": 1, "plan_notes": "服薬の継続が必要"},
    {"intractable_disease": True, "other_reason": "在宅酸素療法", "plan_notes": "酸素ボンベ・電源の確保"},
    {"care_level": "care5", "plan_notes": "寝たきり。福祉避難所へ"},
    {"care_level": "care3", "physical_disability_grade": 2, "disability_type": "limb", "plan_notes": "つえ歩行"},
]


def seed_support(m, admin, *, seed=2026, n_entries=24, today=None) -> dict:
    """Put some elderly residents on the 名簿 (with 避難支援等関係者 and 個別避難計画), and — for 44204 — declare the
    demo disaster if none is open and open a few 被災者台帳 with damage assessments."""
    today = today or timezone.localdate()
    rng = random.Random(f"{seed}-{m.code}-support")
    done = {"vulnerable": 0, "ledgers": 0, "assessments": 0}
    with tenant_scope(m):
        listed = set(VulnerablePerson.objects.values_list("person_id", flat=True))
        old = list(Person.objects.filter(status=Status.RESIDENT, dv_protected=False,
                                         birth_date__lt=today - dt.timedelta(days=78 * 365))
                   .order_by("pk").values_list("pk", flat=True)[:2000])
        rng.shuffle(old)
        for i, pk in enumerate(old[:n_entries]):
            if pk in listed:
                continue
            consent = rng.random() < 0.7
            values = {**PROFILES[i % len(PROFILES)], "phone": f"0973-{rng.randint(20, 29)}-{rng.randint(1000, 9999)}",
                      "consent": "agreed" if consent else rng.choice(["refused", "unknown"]),
                      "consent_date": today - dt.timedelta(days=rng.randint(30, 600)),
                      "plan_destination": rng.choice(["三本松小学校体育館", "日田市総合保健福祉センター（福祉避難所）",
                                                      "咸宜小学校体育館", "桂林公民館"]),
                      "plan_route": rng.choice(["長女が車で送迎", "民生委員と徒歩で（約400m）", "自主防災会がリヤカーで",
                                                "福祉タクシーを手配"]),
                      "plan_date": today - dt.timedelta(days=rng.randint(10, 300))}
            if values["consent"] == "unknown":
                values["consent_date"] = None
            vp = sa.save_vulnerable_person(admin, pk, values, terminal=DEMO_TERMINAL)
            district = sq.district_of(Person.objects.get(pk=pk).address)
            for kind in ("welfare_commissioner", rng.choice(SUPPORTER_KINDS[1:])):
                name, contact = _supporter(kind, m, district, rng)
                sa.add_supporter(admin, vp.pk, {"kind": kind, "name": name, "contact": contact,
                                                "implements_plan": kind == "welfare_commissioner"},
                                 terminal=DEMO_TERMINAL)
            done["vulnerable"] += 1
        # one DV-protected resident, entered by the admin (who has the right): other staff see the row withheld
        hidden = (Person.objects.filter(status=Status.RESIDENT, dv_protected=True).exclude(pk__in=listed)
                  .order_by("pk").values_list("pk", flat=True).first())
        if hidden is not None:
            sa.save_vulnerable_person(admin, hidden, {
                "other_reason": "避難に介助が必要（個別に調整）", "consent": "agreed",
                "consent_date": today - dt.timedelta(days=40), "plan_destination": "（庁内で個別に調整）"},
                terminal=DEMO_TERMINAL)
            done["vulnerable"] += 1
        if m.code != "44204":
            return done
        act = disaster_queries.current_activation()
        if act is None:
            act = disaster_actions.declare_disaster(admin, name=DISASTER_NAME, kind="flood",
                                                    occurred_at=timezone.now() - dt.timedelta(days=2),
                                                    terminal=DEMO_TERMINAL)
        heads = list(Household.objects.filter(is_active=True, head__isnull=False, head__dv_protected=False)
                     .order_by("pk").values_list("pk", flat=True)[:600])
        rng.shuffle(heads)
        occurred = timezone.localdate(act.disaster.occurred_at)
        for hh_id, ratio in zip(heads[:4], ("62.5", "44.0", "27.0", "8.5")):
            led = sq.ledger_for(act.disaster_id, hh_id)
            if led is None:
                led = sa.save_ledger(admin, act.disaster_id, hh_id, {
                    "whereabouts": "三本松小学校体育館" if float(ratio) > 40 else "",
                    "phone": f"090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                    "other_damage": "家財の浸水（床上）" if float(ratio) > 20 else ""}, terminal=DEMO_TERMINAL)
                done["ledgers"] += 1
            if sq.latest_assessment(led) is None:
                sa.record_damage_assessment(admin, led.pk, {
                    "survey_kind": "first", "surveyed_on": min(today, occurred + dt.timedelta(days=1)),
                    "surveyor": "税務課 家屋調査班A", "damage_ratio": ratio,
                    "flooding": "床上浸水" if float(ratio) > 20 else "床下浸水"}, terminal=DEMO_TERMINAL)
                sa.record_relief(admin, led.pk, {"kind": "supplies", "given_on": today,
                                                 "note": "飲料水・毛布"}, terminal=DEMO_TERMINAL)
                done["assessments"] += 1
    return done
