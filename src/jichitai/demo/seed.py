"""`jichitai seed_demo`: the pilot municipalities, demo logins, a synthetic register, and a few real changes.

1. 大分県/宮崎県 and the ten pilot municipalities (domain.md §2) with their real codes.
2. Demo logins (one well-known password, hashed once): `operator`, and per municipality `admin-CODE` and
   `clerk-CODE`; plus `viewer-44204` and `disaster-44204`.
3. scale × population synthetic residents per municipality, bulk-loaded (`jichitai.demo.bulk`).
4. A handful of changes through the real actions layer (転居, 世帯主変更, 死亡, 転出), so that the audit chain
   has entries, and one `demo.seeded` audit event per municipality.
"""
import contextlib
import datetime as dt
import logging
import random
import time

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import record_event
from jichitai.guard.purge import purge_municipality
from jichitai.residents import actions
from jichitai.residents.models import Household, Person, Status
from jichitai.tenancy.models import Municipality, Prefecture, StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope

from .bulk import generate_municipality, make_generator
from .lists import seed_chouaza, seed_issuances
from .data import OTHER_PLACES, PILOT_BY_CODE, PILOT_MUNICIPALITIES, PREFECTURES
from .support_seed import seed_support

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-pass-2026"
# The demo admins' and operator's authenticator secret (two-step sign-in is mandatory for them). Demo only, printed
# by `make demo`; add it to any TOTP app, or print the current code with `jichitai demo_totp`. A real
# installation's admins enrol their own authenticator (a fresh random secret) at their first sign-in.
DEMO_TOTP_SECRET = "JICHITAIDEMOTOTPJICHITAIDEMOTOTP"  # base32 (20 bytes)
DEMO_URL = "http://127.0.0.1:8000/"
DEMO_TERMINAL = "demo-seed"
ROLE_LABEL = dict(Role.choices)


class AlreadySeeded(Exception):
    pass


class NotADemoDatabase(Exception):
    """The database holds municipalities that were not created as demo tenants: seeding (and --reset) refuse."""

    def __init__(self, municipalities):
        self.municipalities = municipalities
        names = ", ".join(f"{m.name}({m.code})" for m in municipalities[:10])
        more = f" ほか{len(municipalities) - 10}団体" if len(municipalities) > 10 else ""
        super().__init__(
            f"このデータベースにはデモ用でない自治体があります: {names}{more}。デモデータは作成・削除しません。"
            f"デモは空のデータベース（または seed_demo で作成したデータベース）で実行してください。"
            f" / This database holds municipalities not created as demo tenants ({len(municipalities)}); the demo "
            f"neither seeds nor deletes anything here. Run it on an empty database (or one seed_demo created).")


def refuse_unless_demo_database():
    """Seeding is allowed only on a database whose every municipality was created as a demo tenant."""
    real = list(Municipality.objects.filter(is_demo=False).order_by("code"))
    if real:
        raise NotADemoDatabase(real)


def ensure_municipalities(codes):
    prefs = {}
    for pcode in sorted({c[:2] for c in codes}):
        prefs[pcode], _ = Prefecture.objects.get_or_create(code=pcode, defaults={"name": PREFECTURES[pcode]})
    out = []
    for code in codes:
        pilot = PILOT_BY_CODE[code]
        m, created = Municipality.objects.get_or_create(
            code=code, defaults={"prefecture": prefs[code[:2]], "name": pilot.name, "name_kana": pilot.name_kana,
                                 "is_demo": True})
        if not m.is_demo:  # refuse_unless_demo_database ran first; a real tenant created meanwhile is not touched
            raise NotADemoDatabase([m])
        if not created and not m.name_kana:
            Municipality.objects.filter(pk=m.pk).update(name_kana=pilot.name_kana)
        out.append(m)
    return out


def demo_logins(municipalities):
    """(username, role, municipality or None, can_view_dv_protected, display_name) for every demo login."""
    rows = [("operator", Role.OPERATOR, None, False, "運用者（デモ）")]
    for m in municipalities:
        rows.append((f"admin-{m.code}", Role.ADMIN, m, True, f"{m.name} 管理者（デモ）"))
        rows.append((f"clerk-{m.code}", Role.CLERK, m, False, f"{m.name} 窓口職員（デモ）"))
        if m.code == "44204":
            rows.append(("viewer-44204", Role.VIEWER, m, False, f"{m.name} 照会専用職員（デモ）"))
            rows.append(("disaster-44204", Role.DISASTER, m, False, f"{m.name} 災害対応職員（デモ）"))
    return rows


def ensure_users(municipalities):
    """Create the missing demo logins (existing ones are left alone). The password is hashed once (argon2 is
    deliberately slow) and the same encoded hash is stored for every new login."""
    rows = demo_logins(municipalities)
    existing = set(StaffUser.objects.filter(username__in=[r[0] for r in rows]).values_list("username", flat=True))
    missing = [r for r in rows if r[0] not in existing]
    if missing:
        encoded = make_password(DEMO_PASSWORD)
        StaffUser.objects.bulk_create([
            StaffUser(username=u, role=role, municipality=m, can_view_dv_protected=dv, display_name=name,
                      password=encoded, is_active=True)
            for u, role, m, dv, name in missing
        ])
    # only the logins created now get the well-known demo secret: an existing account (an operator of a fresh
    # production installation named "operator", say) is never given a publicly known authenticator
    ensure_demo_mfa([r[0] for r in missing if r[1] in (Role.ADMIN, Role.OPERATOR)])
    return rows


def ensure_demo_mfa(usernames):
    """Enrol the demo logins that must use two-step sign-in with the well-known DEMO_TOTP_SECRET (those without an
    authenticator yet; an authenticator enrolled through the UI is left alone)."""
    from base64 import b32decode

    from django_otp.plugins.otp_totp.models import TOTPDevice

    key = b32decode(DEMO_TOTP_SECRET).hex()
    for user in StaffUser.objects.filter(username__in=usernames).exclude(totpdevice__confirmed=True):
        TOTPDevice.objects.create(user=user, name="デモ用認証アプリ", key=key, confirmed=True)


def reset_municipality(m):
    """Delete a demo municipality's rows (residents, history, households, number series, certificates, feed, audit
    chain …) through the one sanctioned purge path. Refuses a municipality not created as a demo tenant."""
    m = Municipality.objects.get(pk=m.pk)
    if not m.is_demo:
        raise NotADemoDatabase([m])
    return purge_municipality(m, reason="seed_demo --reset (demo tenant)", terminal=DEMO_TERMINAL)


# ---------------------------------------------------------------- stories through the real actions

def _change_dates(rng, today, *persons):
    last = max((p.last_change_date for p in persons if p.last_change_date), default=today - dt.timedelta(days=400))
    lo = max(last + dt.timedelta(days=1), today - dt.timedelta(days=300))
    if lo > today:
        lo = today
    change = dt.date.fromordinal(rng.randint(lo.toordinal(), today.toordinal()))
    notif = min(today, change + dt.timedelta(days=rng.randint(0, 13)))
    return change, notif


def _couples(rng, today, limit):
    """Active two-person households of an elderly head (male) and his wife."""
    wives = list(Person.objects.filter(relationship="妻", status=Status.RESIDENT, household__is_active=True,
                                       birth_date__lt=today - dt.timedelta(days=68 * 365))
                 .values_list("household_id", flat=True)[:2000])
    rng.shuffle(wives)
    out = []
    for hid in wives:
        members = list(Person.objects.filter(household_id=hid, status=Status.RESIDENT).order_by("pk"))
        if len(members) == 2 and members[0].is_head and members[0].sex == "1":
            out.append(members)
            if len(out) >= limit:
                break
    return out


@contextlib.contextmanager
def _story(done, kind):
    """Count a story that went through; one refused by a business rule is logged and skipped, not fatal."""
    try:
        yield
    except actions.RuleError as e:
        logger.warning("demo story %s skipped: %s", kind, e)
    else:
        done[kind] += 1


def run_stories(m, admin, *, seed, n_hint, today=None):
    """A few real changes per municipality through `jichitai.residents.actions` (so they are audited)."""
    today = today or timezone.localdate()
    rng = random.Random(f"{seed}-{m.code}-stories")
    gen = make_generator(m, n_hint, random.Random(f"{seed}-{m.code}"), today)  # the same towns as the bulk load
    gen.rng = rng
    done = {"move_within": 0, "head_change": 0, "death": 0, "move_out": 0, "move_out_confirmed": 0}
    used = set()
    with tenant_scope(m):
        actor = actions.Actor(intake=actions.IntakeInput.in_person(), user=admin, terminal=DEMO_TERMINAL)
        heads = list(Person.objects.filter(is_head=True, status=Status.RESIDENT, household__is_active=True)
                     .values_list("pk", flat=True))
        rng.shuffle(heads)
        # 転居: whole households to a new address in town
        for pk in heads[:20]:
            head = Person.objects.select_related("household").get(pk=pk)
            members = list(Person.objects.filter(household_id=head.household_id, status=Status.RESIDENT))
            change, notif = _change_dates(rng, today, *members)
            address, postal = gen.address()
            katagaki = gen.katagaki() if rng.random() < 0.3 else ""
            try:
                actions.register_move_within(actor, head, expected_version=head.version, address=address,
                                             address_katagaki=katagaki, postal_code=postal, change_date=change,
                                             notification_date=notif, with_household=True)
            except actions.RuleError:
                continue
            used.add(head.household_id)
            done["move_within"] += 1

        couples = [c for c in _couples(rng, today, 8) if c[0].household_id not in used]
        # 世帯主変更: the wife becomes head, the husband's 続柄 becomes 夫
        for husband, wife in couples[:2]:
            change, notif = _change_dates(rng, today, husband, wife)
            with _story(done, "head_change"):
                others = Person.objects.filter(household_id=wife.household_id, status=Status.RESIDENT).exclude(
                    pk__in=[husband.pk, wife.pk])
                actions.change_head(actor, wife.household, new_head=wife, former_head_relationship="夫",
                                    relationships={o.pk: o.relationship for o in others}, change_date=change,
                                    notification_date=notif,
                                    expected_version=actions.household_version(wife.household))
        # 死亡: an elderly head; his wife becomes head
        for husband, wife in couples[2:4]:
            change, notif = _change_dates(rng, today, husband, wife)
            with _story(done, "death"):
                actions.register_death(actor, husband, expected_version=husband.version, death_date=change,
                                       notification_date=notif, new_head=wife)
        # 転出: young people living alone (one already confirmed by the new municipality's 転入通知)
        young = list(Person.objects.filter(is_head=True, status=Status.RESIDENT, household__is_active=True,
                                           birth_date__gt=today - dt.timedelta(days=35 * 365),
                                           birth_date__lt=today - dt.timedelta(days=19 * 365))
                     .exclude(household_id__in=used).values_list("pk", flat=True)[:500])
        rng.shuffle(young)
        for i, pk in enumerate(young[:6]):
            p = Person.objects.get(pk=pk)
            if Person.objects.filter(household_id=p.household_id, status=Status.RESIDENT).count() != 1:
                continue
            place = rng.choice(OTHER_PLACES)[0]
            dest = f"{place}{gen.pools.towns[rng.randrange(len(gen.pools.towns))][0]}{rng.randint(1, 30)}番地"
            confirmed = done["move_out"] == 0
            if confirmed:
                planned = max(today - dt.timedelta(days=20), (p.last_change_date or today) + dt.timedelta(days=1))
                planned = min(planned, today)
            else:
                planned = today + dt.timedelta(days=rng.randint(3, 14))
            notif = min(today, max(planned - dt.timedelta(days=7), p.last_change_date or planned))
            with _story(done, "move_out"):
                p = actions.register_move_out(actor, p, expected_version=p.version, destination=dest,
                                              planned_date=planned, notification_date=notif)
            if confirmed and p.status == Status.REMOVED:
                with _story(done, "move_out_confirmed"):
                    actions.confirm_move_out(actor, p, expected_version=p.version, destination=dest,
                                             notice_date=min(today, planned + dt.timedelta(days=3)))
            if done["move_out"] >= 2:
                break
    return done


# 審査・決裁 is turned on in this demo municipality (綾町), with changes waiting, so that the 決裁待ち screens have
# content; 日田市 keeps the standard value (off), so its tour registers changes at once.
APPROVAL_DEMO_CODE = "45383"
DEMO_MAYOR_NAME = "見本　太郎"  # synthetic, printed as 市区町村長の氏名 on demo certificates


def set_demo_signer(m, admin):
    """The 証明者 a municipality must set before it may issue certificates: a synthetic mayor's name and the
    standard drawn seal (「<職名>之印」) as the uploaded seal image. Leaves a value the admin set alone."""
    from jichitai.certificates import config as cert_config
    from jichitai.certificates.models import Tier
    from jichitai.certificates.render import seal_png_uri

    current = cert_config.effective(m)
    if current.get("mayor_name") in ("", cert_config.SETTINGS["mayor_name"].default):
        cert_config.set_setting(admin, "mayor_name", DEMO_MAYOR_NAME, tier=Tier.MUNICIPALITY, municipality=m,
                                terminal=DEMO_TERMINAL)
    if not current.get("seal_image"):
        cert_config.set_setting(admin, "seal_image", seal_png_uri(current.get("mayor_title", "")),
                                tier=Tier.MUNICIPALITY, municipality=m, terminal=DEMO_TERMINAL)


def run_intake_stories(m, admin, clerk, *, seed, n_hint, today=None):
    """綾町: 審査・決裁 on; the clerk receives a 転居 (filed by an agent) and a 転出 of several members, which wait
    for the admin; one more 転居 is returned with a reason. Returns the counts."""
    today = today or timezone.localdate()
    rng = random.Random(f"{seed}-{m.code}-intake")
    gen = make_generator(m, n_hint, random.Random(f"{seed}-{m.code}"), today)  # the towns of the 町字 master
    gen.rng = rng
    done = {"pending": 0, "returned": 0}
    with tenant_scope(m):
        actions.set_approval_required(actions.Actor(user=admin, terminal=DEMO_TERMINAL), True)
        families = [hid for hid in Household.objects.filter(is_active=True).values_list("pk", flat=True)[:3000]
                    if Person.objects.filter(household_id=hid, status=Status.RESIDENT).count() >= 3]
        rng.shuffle(families)
        agent = actions.IntakeInput(notifier_kind="agent", notifier_name="代理　花子",
                                    notifier_address="大分県大分市府内町一丁目1番1号", id_document="driving_licence")
        for n, hid in enumerate(families[:3]):
            members = list(Person.objects.select_related("household").filter(household_id=hid,
                                                                             status=Status.RESIDENT)
                           .order_by("-is_head", "birth_date"))
            head, first, *rest = members
            change, notif = _change_dates(rng, today, *members)
            with _story(done, "returned" if n == 2 else "pending"):
                if n == 1:  # 複数転出: two members leave together, the head stays
                    row = actions.register_move_out(
                        actions.Actor(user=clerk, terminal="窓口2", intake=actions.IntakeInput.in_person()),
                        first, expected_version=first.version, destination="福岡県福岡市中央区天神二丁目2番2号",
                        planned_date=today + dt.timedelta(days=7), notification_date=today, companions=rest[:1])
                else:  # a member moves to a new household of her own in town
                    mover = rest[0] if rest else first
                    address, postal = gen.address()
                    row = actions.register_move_within(
                        actions.Actor(user=clerk, terminal="窓口2", intake=agent if n == 0 else
                                      actions.IntakeInput.in_person()),
                        mover, expected_version=mover.version, address=address, postal_code=postal,
                        change_date=change, notification_date=notif, new_household_head=mover)
                if n == 2:
                    actions.return_change(actions.Actor(user=admin, terminal=DEMO_TERMINAL), row,
                                          reason="届出人の本人確認書類の記載と届出書の氏名が一致しません")
    return done


# ---------------------------------------------------------------- the command's work

def seed_demo(*, scale=0.1, seed=2026, codes=None, reset=False, out=print, quiet=False):
    """Seed the demo. Returns a summary dict. Raises AlreadySeeded when the municipalities hold residents
    (and `reset` is false)."""
    started = time.monotonic()
    codes = codes or [p.code for p in PILOT_MUNICIPALITIES]
    unknown = [c for c in codes if c not in PILOT_BY_CODE]
    if unknown:
        raise ValueError(f"not a pilot municipality: {', '.join(unknown)}")
    say = (lambda *a: None) if quiet else out

    refuse_unless_demo_database()
    existing = list(Municipality.objects.filter(code__in=codes))
    seeded = []
    for m in existing:
        with tenant_scope(m):
            if Person.objects.exists():
                seeded.append(m)
    if seeded and not reset:
        raise AlreadySeeded(", ".join(f"{m.name}({m.code})" for m in seeded))
    for m in seeded:
        say(f"  {m.name}: 既存のデータを削除します (--reset)")
        reset_municipality(m)

    municipalities = ensure_municipalities(codes)
    logins = ensure_users(municipalities)
    admins = {u.municipality_id: u for u in StaffUser.objects.filter(role=Role.ADMIN,
                                                                       username__startswith="admin-",
                                                                       municipality__in=municipalities)}
    summary = {"municipalities": {}, "persons": 0}
    for m in municipalities:
        pilot = PILOT_BY_CODE[m.code]
        n = max(1, round(pilot.population * scale))
        t0 = time.monotonic()

        def progress(done, total, m=m):
            if total >= 40_000:
                say(f"    {m.name}: {done:,}/{total:,}")

        with transaction.atomic():
            stats = generate_municipality(m, n, seed=seed, progress=progress)
        towns = seed_chouaza(m, n, seed=seed)  # before the stories: their new addresses are checked against it
        set_demo_signer(m, admins[m.pk])
        stories = run_stories(m, admins[m.pk], seed=seed, n_hint=n)
        if m.code == APPROVAL_DEMO_CODE:
            clerk = StaffUser.objects.get(username=f"clerk-{m.code}")
            stories.update({f"intake_{k}": v for k, v in run_intake_stories(m, admins[m.pk], clerk,
                                                                            seed=seed, n_hint=n).items()})
        support = seed_support(m, admins[m.pk], seed=seed)  # 避難行動要支援者名簿・被災者台帳 (idempotent)
        issued, why = seed_issuances(m, StaffUser.objects.get(username=f"clerk-{m.code}"), seed=seed)
        if why:
            say(f"    {m.name}: 証明書のデモ発行を省略しました / demo certificates skipped: {why}")
        record_event(m, "demo.seeded", actor=None, object_type="municipality", object_id=m.code,
                     detail={"persons": stats["persons"], "households": stats["households"],
                             "history": stats["history"], "removed": stats["removed"],
                             "foreign": stats["foreign"], "stories": stories, "scale": scale, "seed": seed})
        summary["municipalities"][m.code] = {**stats, "stories": stories, "support": support}
        summary["persons"] += stats["persons"]
        say(f"  {m.prefecture.name}{m.name} ({m.code}): 住民 {stats['persons']:,} 人 / 世帯 {stats['households']:,}"
            f" / 除票 {stats['removed']:,} / 外国人 {stats['foreign']:,} / 異動 {sum(stories.values())} 件"
            f" / 町字 {towns} / 証明書 {issued} 件"
            f"  ({time.monotonic() - t0:.1f} s)")
    if "44204" in summary["municipalities"]:  # the demo disaster (#12): shelters, evacuees, safety notes
        from .disaster_seed import seed_disaster

        summary["evacuees"] = seed_disaster(next(m for m in municipalities if m.code == "44204"), seed=seed, out=say)
    from jichitai.platform.demo import seed_platform  # 共同利用の画面のデモ（要求事項・費用など）

    seed_platform(municipalities, seed=seed, out=say)
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["logins"] = logins
    return summary


def logins_table(logins) -> str:
    lines = ["デモ用ログイン (password: %s)" % DEMO_PASSWORD, f"  {'username':<16} {'role':<9} 所属"]
    for u, role, m, dv, _name in logins:
        where = f"{m.prefecture.name}{m.name}" if m else "（全団体の運用）"
        note = "  ※支援措置対象者の住所を閲覧可" if dv else ""
        if role in (Role.ADMIN, Role.OPERATOR):
            note += "  ※2段階認証あり"
        lines.append(f"  {u:<16} {role.value if hasattr(role, 'value') else role:<9} {where}{note}")
    lines.append(f"2段階認証（管理者・運用者）: 認証アプリにキー {DEMO_TOTP_SECRET} を登録するか、"
                 "`.venv/bin/jichitai demo_totp` で今の確認コードを表示してください（デモ専用のキー）。")
    return "\n".join(lines)
