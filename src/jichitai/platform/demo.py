"""Synthetic demo data of the platform screens: the Oita and Miyazaki requirements classified exactly as the seed's
table (p.7) reports them, cost items, an advisory. Called by `demo.seed.seed_demo`; synthetic texts only."""
from __future__ import annotations

import random

from django.db import transaction
from django.utils import timezone

from jichitai.tenancy.scope import tenant_scope

from .models import BusinessArea, Requirement

# 大分・宮崎の実証（自治体クラウド開発実証 調査研究報告書、平成23年3月 総務省; seed p.7)
SEED_FIGURES = {
    "44": {"out_of_scope": 215, "standard": 3132, "standard_added": 102, "prefecture": 3, "individual": 138},
    "45": {"out_of_scope": 210, "standard": 3964, "standard_added": 212, "prefecture": 14, "individual": 144},
}

# Share of requirements per business area (the seed's mailing-list posts per area as a rough weight).
AREA_WEIGHTS = [(BusinessArea.RESIDENTS, 330), (BusinessArea.TAX, 254), (BusinessArea.HEALTH_INSURANCE, 322),
                (BusinessArea.WELFARE, 467), (BusinessArea.FINANCE, 113), (BusinessArea.PAYROLL, 88),
                (BusinessArea.DOCUMENTS, 61)]

PHRASES = {
    BusinessArea.RESIDENTS: ["住民票の写しの交付時に{x}を確認できること", "転入届の受付で{x}を入力できること",
                             "世帯一覧を{x}順に表示できること", "異動届の審査で{x}を警告すること"],
    BusinessArea.TAX: ["個人住民税の{x}を一括で更正できること", "課税台帳を{x}で検索できること",
                       "納税通知書に{x}を印字できること"],
    BusinessArea.HEALTH_INSURANCE: ["国保の資格取得時に{x}を自動判定すること", "保険税の{x}を月割で計算できること",
                                    "被保険者証に{x}を印字できること"],
    BusinessArea.WELFARE: ["児童手当の{x}を管理できること", "介護保険の{x}を一覧で出力できること",
                           "障害者手帳の{x}を履歴で保持すること"],
    BusinessArea.FINANCE: ["予算差引簿を{x}別に出力できること", "支出負担行為に{x}の決裁を付けられること"],
    BusinessArea.PAYROLL: ["給与明細に{x}を表示できること", "期末手当の{x}を計算できること"],
    BusinessArea.DOCUMENTS: ["文書の保存年限を{x}で管理できること", "起案文書に{x}を添付できること"],
}
THINGS = ["本人確認書類", "前住所", "続柄", "宛名番号", "支援措置の有無", "減免区分", "口座情報", "所属", "年度",
          "保存期間", "旧姓", "通称名", "郵便番号", "地区コード", "担当課"]

# Settings that answer some classified requirements (the fit-gap table links to them).
LINKS = {
    "standard_added": ["certificates.footer_note", "tenancy.mfa_required_for_all_staff"],
    "prefecture": ["certificates.attestation_resident_copy", "platform.individual_approver"],
    "individual": ["certificates.fee_resident_copy", "tenancy.role_perms.clerk", "certificates.mayor_name"],
    "standard": [],
}


def requirement_rows(municipalities, *, seed=2026):
    """Plain tuples (municipality, code, area, text, classification, setting_keys) reproducing SEED_FIGURES per
    prefecture, spread over the given municipalities of each prefecture (ordered by code)."""
    rng = random.Random(seed)
    by_pref = {}
    for m in sorted(municipalities, key=lambda m: m.code):
        by_pref.setdefault(m.code[:2], []).append(m)
    areas = [a for a, _ in AREA_WEIGHTS]
    weights = [w for _, w in AREA_WEIGHTS]
    out = []
    for pref, figures in SEED_FIGURES.items():
        munis = by_pref.get(pref)
        if not munis:
            continue
        classes = [c for c, n in figures.items() for _ in range(n)]
        rng.shuffle(classes)
        serial = {m.pk: 0 for m in munis}
        for i, cls in enumerate(classes):
            m = munis[i % len(munis)]
            serial[m.pk] += 1
            area = rng.choices(areas, weights)[0]
            text = rng.choice(PHRASES[area]).format(x=rng.choice(THINGS))
            keys = [rng.choice(LINKS[cls])] if LINKS.get(cls) and rng.random() < 0.5 else []
            out.append((m, f"R-{m.code}-{serial[m.pk]:05d}", area, text, cls, keys))
    return out


def seed_requirements(municipalities, *, seed=2026, submitted_by="demo-seed") -> int:
    """Insert the demo requirements (one bulk insert per municipality). Returns the number of rows."""
    rows = requirement_rows(municipalities, seed=seed)
    now = timezone.now()
    per = {}
    for m, code, area, text, cls, keys in rows:
        per.setdefault(m, []).append(Requirement(
            municipality=m, code=code, area=area, text=text, classification=cls, setting_keys=keys,
            submitted_by=submitted_by, submitted_at=now, classified_by="作業部会（デモ）",
            classified_at=now))
    for m, objs in per.items():
        with tenant_scope(m), transaction.atomic():
            Requirement.objects.filter(code__startswith=f"R-{m.code}-").delete()
            Requirement.objects.bulk_create(objs, batch_size=1000)
    return len(rows)


def seed_platform(municipalities, *, seed=2026, out=print):
    """Everything the platform screens show in the demo (called by demo.seed.seed_demo)."""
    n = seed_requirements(municipalities, seed=seed)
    out(f"  共同利用: 要求事項 {n:,} 件（大分・宮崎の実証の分類どおり）")
    for extra in _EXTRA_SEEDERS:
        extra(municipalities, seed=seed, out=out)


_EXTRA_SEEDERS = []
