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


def seed_operations(municipalities, *, seed=2026, out=print):
    """Cost items of the current fiscal year, measured use, an advisory, an incident, licences, a pending 個別
    proposal and a 県版 value: what the operator's and admins' platform screens show in the demo. Idempotent."""
    import datetime as dt

    from jichitai.tenancy.models import StaffUser
    from jichitai.tenancy.roles import Role

    from . import actions, engine, metrics, queries
    from .models import Advisory, CostItem, Incident, Licence

    op = StaffUser.objects.filter(role=Role.OPERATOR, is_active=True).first()
    if op is None:
        return
    fy = queries.current_fiscal_year()
    if not CostItem.objects.filter(fiscal_year=fy).exists():
        share = max(1, len(municipalities)) / 10  # the amounts are for the ten pilot municipalities
        for cat, label, amount, rule in [
                ("data_centre", "データセンター利用料（ハウジング・回線）", 62_400_000, "equal"),
                ("licences", "住民記録パッケージ使用料", 48_000_000, "population"),
                ("licences", "データベース・帳票ライセンス", 12_600_000, "usage"),
                ("operations", "運用保守・ヘルプデスク", 36_000_000, "usage"),
                ("development", "標準追加機能の開発（314件の一部）", 18_500_001, "equal")]:
            actions.add_cost_item(op, fiscal_year=fy, category=cat, label=label, amount_yen=int(amount * share),
                                  rule=rule, terminal="demo-seed")
    rng = random.Random(seed)
    today = timezone.localdate()
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    for m in municipalities:  # aggregated counters as the middleware and the probe would have left them
        for day in (last_month.replace(day=d) for d in range(1, last_month.day + 1, 3)):
            for _ in range(rng.randint(40, 120)):
                metrics.record(m.pk, "web", rng.choice([40, 80, 120, 180, 260, 420, 900]), rng.random() < 0.002,
                               day=day)
            for _ in range(rng.randint(5, 60)):
                metrics.record(m.pk, "api", rng.choice([20, 60, 140]), False, day=day)
            metrics.record(m.pk, "probe", 35, False, day=day)
    metrics.flush()
    codes = [m.code for m in municipalities]
    if not Advisory.objects.exists() and municipalities:
        adv = actions.broadcast_advisory(
            op, kind="early_warning", severity="高", title="VPN装置の脆弱性（CVE番号は架空・デモ）",
            body="庁内とデータセンターを結ぶVPN装置に認証回避の脆弱性が公表されました。修正版の適用状況を確認し、"
                 "対応状況を入力して「確認した」を押してください。", terminal="demo-seed")
        actions.broadcast_advisory(op, kind="alert", title="標的型メールへの注意喚起",
                                   body="請求書を装った添付ファイル付きメールが確認されています。", codes=codes[:3],
                                   terminal="demo-seed")
        admin = StaffUser.objects.filter(username="admin-44204").first()
        m0 = next((m for m in municipalities if m.code == "44204"), None)
        if admin and m0:
            actions.acknowledge_advisory(admin, m0, adv.pk, action_taken="12月5日に修正版を適用済み",
                                         terminal="demo-seed")
    if not Incident.objects.exists() and municipalities:
        tz = timezone.get_current_timezone()
        start = dt.datetime(last_month.year, last_month.month, 14, 9, 12, tzinfo=tz)
        inc = actions.open_incident(op, title="ストレージ装置の障害による停止", category="hardware",
                                    affected=[c for c in codes if c.startswith("45")], started_at=start, text="宮崎側の団体で応答なし",
                                    terminal="demo-seed")
        actions.update_incident(op, inc.pk, text="冗長系へ切替えて復旧", resolve=True,
                                resolved_at=start + dt.timedelta(minutes=47), terminal="demo-seed")
    if not Licence.objects.exists():
        for product, vendor, basis, n in [("住民記録パッケージ", "（デモ）A社", "tenant", 10),
                                          ("データベース", "（デモ）B社", "physical_host", 1),
                                          ("帳票エンジン", "（デモ）C社", "vcpu", 8),
                                          ("端末接続ライセンス", "（デモ）D社", "user", 40)]:
            actions.add_licence(op, product=product, vendor=vendor, basis=basis, entitlement=n,
                                terminal="demo-seed")
    admin = StaffUser.objects.filter(username="admin-44204").first()
    m0 = next((m for m in municipalities if m.code == "44204"), None)
    if admin and m0 and not engine.proposals_of(m0):
        from jichitai.tenancy.roles import Perm

        engine.set_value(admin, "tenancy.role_perms.clerk", sorted({
            Perm.VIEW_RESIDENTS, Perm.CHANGE_RESIDENTS, Perm.VIEW_INDIVIDUAL_NUMBER, Perm.VIEW_GAIJI,
            Perm.ISSUE_CERTIFICATES, Perm.VOID_CERTIFICATES}), tier="municipality", municipality=m0,
            requirement="R-44204-00012", reason="窓口職員が誤交付をその場で取り消せるように（条例の運用）",
            terminal="demo-seed")
        pref = next((m.prefecture for m in municipalities if m.code.startswith("45")), None)
        if pref is not None:
            engine.set_value(op, "certificates.attestation_resident_copy",
                             "この写しは、住民票の原本と相違ないことを証明する。（{都道府県名}様式）", tier="prefecture",
                             prefecture=pref, requirement="R-45203-00007", terminal="demo-seed")
    out("  共同利用: 費用・利用実績・注意喚起・障害・ライセンス・承認待ちの申請")


_EXTRA_SEEDERS = [seed_operations]
