"""Shared fixtures: two municipalities (tenants), staff of each role, and residents made through the actions."""
import datetime as dt

import pytest
from django.contrib.auth.hashers import make_password

from jichitai.residents import actions
from jichitai.tenancy.models import Municipality, Prefecture, StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope

PASSWORD = "correct-horse-9"
_HASH = {}


def _hash():
    if "h" not in _HASH:
        _HASH["h"] = make_password(PASSWORD)
    return _HASH["h"]


@pytest.fixture
def munis(db):
    oita = Prefecture.objects.create(code="44", name="大分県")
    miyazaki = Prefecture.objects.create(code="45", name="宮崎県")
    a = Municipality.objects.create(code="44204", name="日田市", prefecture=oita)
    b = Municipality.objects.create(code="45383", name="綾町", prefecture=miyazaki)
    return a, b


def make_user(username, role, municipality, **extra):
    return StaffUser.objects.create(username=username, password=_hash(), role=role, municipality=municipality,
                                    **extra)


@pytest.fixture
def staff(munis):
    a, b = munis
    return {
        "admin_a": make_user("admin-a", Role.ADMIN, a, can_view_dv_protected=True),
        "clerk_a": make_user("clerk-a", Role.CLERK, a),
        "viewer_a": make_user("viewer-a", Role.VIEWER, a),
        "disaster_a": make_user("disaster-a", Role.DISASTER, a),
        "admin_b": make_user("admin-b", Role.ADMIN, b, can_view_dv_protected=True),
        "clerk_b": make_user("clerk-b", Role.CLERK, b),
        "operator": make_user("operator", Role.OPERATOR, None),
    }


def person_values(**kw):
    v = {"family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ", "given_name_kana": "タロウ",
         "birth_date": dt.date(1975, 4, 1), "sex": "1", "address": "三本松二丁目3番5号",
         "previous_address": "福岡県福岡市中央区天神一丁目1番1号", "honseki": "大分県日田市三本松二丁目3番",
         "hittosha": "山田　太郎"}
    v.update(kw)
    return v


class Town:
    """Helper to build residents in one municipality through the real actions."""

    def __init__(self, municipality, user):
        self.m = municipality
        self.user = user

    def actor(self):
        return actions.Actor(intake=actions.IntakeInput.in_person(), user=self.user, terminal="test",
                             municipality=self.m)

    def family(self, family_name="山田", kana="ヤマダ", address="三本松二丁目3番5号", **kw):
        with tenant_scope(self.m):
            head = actions.register_move_in(
                self.actor(), values=person_values(family_name=family_name, family_name_kana=kana, address=address,
                                                   **kw),
                change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))
            wife = actions.register_move_in(
                self.actor(), household=head.household,
                values=person_values(family_name=family_name, family_name_kana=kana, given_name="花子",
                                     given_name_kana="ハナコ", sex="2", birth_date=dt.date(1977, 8, 15),
                                     relationship="妻", address=address),
                change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))
            child = actions.register_birth(
                self.actor(), household=head.household,
                values={"family_name": family_name, "given_name": "一郎", "family_name_kana": kana,
                        "given_name_kana": "イチロウ", "birth_date": dt.date(2021, 6, 10), "sex": "1"},
                notification_date=dt.date(2021, 6, 20))
            head.refresh_from_db()
            return head, wife, child


@pytest.fixture
def town_a(munis, staff):
    return Town(munis[0], staff["admin_a"])


@pytest.fixture
def town_b(munis, staff):
    return Town(munis[1], staff["admin_b"])


def client_for(user):
    """A test client signed in as `user` (the second sign-in step passed where it applies, see below)."""
    from django.test import Client

    c = Client()
    c.force_login(user)
    return c


def audit_events(m, **filters):
    """The municipality's audit entries matching `filters`, in chain order."""
    from jichitai.audit.models import AuditEvent

    with tenant_scope(m):
        return list(AuditEvent.objects.filter(**filters).order_by("seq"))


@pytest.fixture
def login(client):
    def _login(user):
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return _login


TERMINAL = "窓口3@10.0.0.3"


class Env:
    """One family in town A, with A's clerk; tests using `env` run inside A's tenant scope."""

    def __init__(self, m, clerk, head, wife, child):
        self.m, self.clerk, self.head, self.wife, self.child = m, clerk, head, wife, child

    def actor(self):
        return actions.Actor(intake=actions.IntakeInput.in_person(), user=self.clerk, terminal=TERMINAL,
                             municipality=self.m)

    def fresh(self, p):
        from jichitai.residents.models import Person

        return Person.objects.select_related("household").get(pk=p.pk)

    def move(self, p, **kw):
        """A 転居 of `p` (fresh version) ready to run: returns a callable, so a test can expect it to raise.
        Unless told otherwise, a head moves with the whole household and a member moves alone into a new household
        (one household, one address)."""
        p = self.fresh(p)
        args = dict(expected_version=p.version, address="豆田町5番1号", change_date=dt.date(2024, 4, 1),
                    notification_date=dt.date(2024, 4, 5))
        if not {"with_household", "new_household_head", "join_household"} & set(kw):
            args.update(with_household=True) if p.is_head else args.update(new_household_head=p)
        args.update(kw)
        return lambda: actions.register_move_within(self.actor(), p, **args)


@pytest.fixture
def env(town_a, staff):
    head, wife, child = town_a.family()
    with tenant_scope(town_a.m):
        yield Env(town_a.m, staff["clerk_a"], head, wife, child)


# --- staff identity: role cache and the second sign-in step -------------------------------------------------

@pytest.fixture(autouse=True)
def _fresh_role_cache():
    """Role definitions are cached per process; a rolled-back test must not leave its edits in the cache."""
    from jichitai.tenancy.roles import clear_cache

    clear_cache()
    yield
    clear_cache()


def verify_mfa(client, user):
    """Mark the client's session as having passed the second sign-in step, as `force_login` skips the password
    step: the user gets a confirmed TOTP device (created if missing) and the session records it, exactly what
    `django_otp.login` stores after a correct code. Tests of the real second step post codes to /login/mfa/."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="テスト用", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


@pytest.fixture(autouse=True)
def _sign_in_passes_second_step(monkeypatch):
    """`Client.force_login` / `Client.login` in tests sign in AND pass the second step for users who need it
    (admins, the operator, staff with a device). Production code is unchanged; tests/test_mfa.py drives the
    real two steps through the login pages."""
    from django.test import Client

    original_force, original_login = Client.force_login, Client.login

    def force_login(self, user, backend=None):
        original_force(self, user, backend)
        _after(self, user)

    def login(self, **credentials):
        ok = original_login(self, **credentials)
        if ok:
            from jichitai.tenancy.models import StaffUser

            _after(self, StaffUser.objects.get(username=credentials.get("username")))
        return ok

    def _after(client, user):
        from django_otp import user_has_device

        if user.mfa_required or user_has_device(user):
            verify_mfa(client, user)

    monkeypatch.setattr(Client, "force_login", force_login)
    monkeypatch.setattr(Client, "login", login)


@pytest.fixture(scope="session")
def _audit_keys_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("audit-keys")


@pytest.fixture(autouse=True)
def _audit_files(settings, tmp_path, _audit_keys_dir):
    """Audit keys for the session and checkpoint files per test, outside the project's var/ (a checkpoint of one
    test's chain must never meet another test's chain of the same municipality)."""
    from jichitai.audit import keys

    settings.JICHITAI_AUDIT_KEY_FILE = str(_audit_keys_dir / "hmac.key")
    settings.JICHITAI_AUDIT_SIGNING_KEY_FILE = str(_audit_keys_dir / "checkpoint-ed25519.key")
    settings.JICHITAI_AUDIT_PUBLIC_KEY_FILE = str(_audit_keys_dir / "checkpoint-ed25519.pub")
    settings.JICHITAI_AUDIT_CHECKPOINT_DIR = str(tmp_path / "audit-checkpoints")
    keys.reset_cache()
    yield
    keys.reset_cache()


@pytest.fixture
def attacker_db(db):
    """An attacker with the schema owner's rights who has switched the append-only triggers off: what the audit
    chain's verification must still detect. Undone with the test's transaction."""
    from django.db import connection

    from jichitai.guard import db as guard

    with guard.owner_session("test: an attacker with the owner's rights"):
        with connection.cursor() as c:
            for model in guard.append_only_models():
                if connection.vendor == "postgresql":
                    c.execute(f"ALTER TABLE {model._meta.db_table} DISABLE TRIGGER jichitai_append_only")
            if connection.vendor == "sqlite":
                guard.drop_sqlite_triggers(connection)
        yield


def sees_all_tenants(fn):
    """For a test (or helper) that checks data across municipalities, as system code does: runs it inside
    `cross_tenant` (on PostgreSQL, row-level security otherwise hides every other municipality's rows)."""
    import functools

    from jichitai.tenancy.scope import cross_tenant

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with cross_tenant("test: checks across municipalities"):
            return fn(*args, **kwargs)

    return inner


# 届出の受付 as a change form posts it: 本人, 個人番号カード checked
INTAKE = {"notifier_kind": "self", "id_document": "my_number_card"}


def certificate_signer(m, admin, *, mayor_name="日田　太郎"):
    """Set the 証明者 (mayor's name and seal) a municipality must have before it issues certificates."""
    from jichitai.certificates import config
    from jichitai.certificates.models import Tier
    from jichitai.certificates.render import seal_png_uri

    config.set_setting(admin, "mayor_name", mayor_name, tier=Tier.MUNICIPALITY, municipality=m)
    config.set_setting(admin, "seal_image", seal_png_uri(f"{m.name}長"), tier=Tier.MUNICIPALITY, municipality=m)


@pytest.fixture
def signed_certificates(munis, staff):
    """Both municipalities have their mayor's name and seal set (issuing is refused without them)."""
    certificate_signer(munis[0], staff["admin_a"])
    certificate_signer(munis[1], staff["admin_b"], mayor_name="綾　花子")
