"""A declared demo disaster for 日田市 (44204): shelters, evacuees (at shelters, at home, in cars), matching cases
for the review screen, safety notes and a 広域避難 grant — all through the disaster app's actions (audited), all
synthetic (the evacuees are the demo register's own synthetic residents, written as a shelter's paper list would
write them, plus invented visitors)."""
import datetime as dt
import random

from django.utils import timezone

from jichitai.disaster import actions, queries
from jichitai.residents.models import Person, Status
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope

SHELTERS = [
    ("S01", "三本松小学校体育館", "designated", "三本松二丁目1番1号", 240, 180, True),
    ("S02", "豆田公民館", "designated", "豆田町8番2号", 80, 60, True),
    ("S03", "隈地区福祉センター（福祉避難所）", "welfare", "隈一丁目4番10号", 40, 30, True),
    ("S04", "中央公園管理棟", "emergency", "中央二丁目2番", 60, 0, False),
]
VISITORS = [("大塚　裕子", "オオツカ ユウコ", "1968年", "女", "福岡県久留米市"),
            ("Smith John", "スミス ジョン", "40代", "男", ""), ("小野　健", "", "", "男", "熊本市")]


def _written(p, rng):
    """How a reception desk writes a resident: sometimes no kana, an age instead of a birth date, no space."""
    name = p.full_name if rng.random() < 0.5 else p.full_name.replace("　", "")
    kana = p.full_kana if rng.random() < 0.8 else ""
    r = rng.random()
    if r < 0.6:
        birth = p.birth_date.isoformat()
    elif r < 0.8:
        birth = f"{(timezone.localdate() - p.birth_date).days // 365}歳"
    else:
        birth = ""
    return {"full_name": name, "kana": kana, "birth_text": birth, "sex": p.get_sex_display(), "address": p.address}


def seed_disaster(m, *, seed=2026, out=print):
    user = StaffUser.objects.filter(username=f"disaster-{m.code}").first() or \
        StaffUser.objects.filter(username=f"admin-{m.code}").first()
    rng = random.Random(f"{seed}-{m.code}-disaster")
    with tenant_scope(m):
        # one disaster: the one the support seed (名簿・被災者台帳) may already have declared, so that evacuees,
        # shelters, safety notes and the 被災者台帳 belong to the same declared disaster
        act = queries.current_activation() or actions.declare_disaster(
            user, name="令和8年12月 大雨（デモ）", kind="flood", occurred_at=timezone.now() - dt.timedelta(hours=20))
        for code, name, kind, addr, day, night, open_ in SHELTERS:
            s = actions.save_shelter(user, {"code": code, "name": name, "kind": kind, "address": addr,
                                            "capacity_day": day, "capacity_night": night, "contact_name": "防災課",
                                            "contact_phone": "0973-00-0000"})
            if open_:
                actions.set_shelter_open(user, s.pk, True)
        heads = list(Person.objects.filter(is_head=True, status=Status.RESIDENT, dv_protected=False)
                     .order_by("pk").values_list("household_id", flat=True)[:400])
        rng.shuffle(heads)
        n = 0
        places = ["S01"] * 5 + ["S02"] * 2 + ["S03", "在宅", "車中泊"]
        for hh in heads[:40]:
            members = list(Person.objects.filter(household_id=hh, status=Status.RESIDENT).order_by("pk"))
            place = rng.choice(places)
            presence = rng.choice(["昼夜", "昼夜", "夜間のみ"])
            rows = []
            for p in members:
                r = _written(p, rng)
                r.update(place=place, presence=presence, consent_family="1", consent_public="1" if rng.random() < 0.6
                         else "", place_note="道の駅駐車場" if place == "車中泊" else "",
                         injury="軽い打撲" if rng.random() < 0.05 else "")
                rows.append(r)
            actions.register_evacuees(user, rows, terminal="demo")
            n += len(rows)
        actions.register_evacuees(user, [{"full_name": v[0], "kana": v[1], "birth_text": v[2], "sex": v[3],
                                          "address": v[4], "place": "S02", "consent_public": "1"}
                                         for v in VISITORS], terminal="demo")
        # duplicates across shelters (重複候補): a resident registered again at the welfare shelter (linked to the
        # same resident: merged automatically) and two visitors written at two shelters (a clerk decides)
        again = Person.objects.filter(household_id=heads[0], status=Status.RESIDENT).order_by("pk").first()
        if again is not None:
            actions.register_evacuees(user, [{"full_name": again.full_name, "kana": again.full_kana,
                                              "birth_text": again.birth_date.isoformat(),
                                              "sex": again.get_sex_display(), "address": again.address,
                                              "place": "S03"}], terminal="demo")
        for place, name in (("S02", "田中　美咲"), ("S01", "田中美咲")):
            actions.register_evacuees(user, [{"full_name": name, "kana": "タナカ ミサキ", "birth_text": "1985-06-12",
                                              "sex": "女", "address": "福岡県久留米市", "place": place}],
                                      terminal="demo")
        for place, name in (("S01", "李　明"), ("S03", "李明")):
            actions.register_evacuees(user, [{"full_name": name, "kana": "リ ミン", "birth_text": "1979-11-30",
                                              "sex": "男", "address": "", "place": place}], terminal="demo")
        # 照合の確認 (要確認): residents written with too little to confirm them safely — the name and its reading only,
        # or the name and an age band — for a clerk to confirm or set apart on the review screen
        # (adults: an age band such as 「60代」 is written for adults; a child would be 「0代」, which is no age band)
        adults = timezone.localdate().replace(year=timezone.localdate().year - 20, day=1)
        sparse = list(Person.objects.filter(status=Status.RESIDENT, dv_protected=False, birth_date__lt=adults)
                      .exclude(household_id__in=heads[:40]).order_by("-pk")[:3])
        for i, p in enumerate(sparse):
            today, b = timezone.localdate(), p.birth_date
            decade = (today.year - b.year - ((today.month, today.day) < (b.month, b.day))) // 10 * 10
            actions.register_evacuees(user, [{"full_name": p.full_name, "kana": p.full_kana if i != 2 else "",
                                              "birth_text": f"{decade}代" if i == 2 else "", "sex": "",
                                              "address": "", "place": "S01"}], terminal="demo")
        # safety notes on residents not at a shelter
        others = list(Person.objects.filter(status=Status.RESIDENT, dv_protected=False)
                      .exclude(household_id__in=heads[:40]).order_by("pk").values_list("pk", flat=True)[:600])
        rng.shuffle(others)
        statuses = ["believed_alive"] * 6 + ["is_note_author", "believed_missing", "information_sought"]
        for pk in others[:60]:
            st = rng.choice(statuses)
            actions.add_safety_note(user, person_id=pk, status=st, author_made_contact=st != "believed_missing",
                                    text={"believed_alive": "電話で無事を確認", "is_note_author": "本人が来庁",
                                          "believed_missing": "家族が連絡を取れないと申出",
                                          "information_sought": "親族から安否の問い合わせ"}[st], terminal="demo")
        host = Municipality.objects.filter(code="45383").first()
        travellers = [_written(p, rng) for p in Person.objects.filter(
            status=Status.RESIDENT, dv_protected=False).exclude(household_id__in=heads[:40]).order_by("-pk")[:4]]
        if host is not None:
            actions.grant_lookup(user, host.code, expires_at=timezone.now() + dt.timedelta(days=7),
                                 reason="大雨による広域避難（綾町の避難所への避難者）", terminal="demo")
    host_admin = StaffUser.objects.filter(username="admin-45383").first()
    if host is not None and host_admin is not None:  # the host: 日田市's residents at 綾町's shelter
        with tenant_scope(host):
            queries.current_activation() or actions.declare_disaster(
                host_admin, name="令和8年12月 大雨（受入・デモ）", kind="flood",
                occurred_at=timezone.now() - dt.timedelta(hours=20))
            s = actions.save_shelter(host_admin, {"code": "A01", "name": "綾町中央公民館", "kind": "designated",
                                                  "address": "大字南俣1番地", "capacity_day": 100,
                                                  "capacity_night": 80})
            actions.set_shelter_open(host_admin, s.pk, True)
            actions.register_evacuees(host_admin, [{**t, "place": "A01"} for t in travellers], terminal="demo")
    out(f"  {m.name}: 災害「{act.disaster.name}」、避難者 {n + len(VISITORS)} 人、安否情報 60 件（デモ）")
    return n + len(VISITORS)
