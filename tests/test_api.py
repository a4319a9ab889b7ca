"""The change feed API (issue "Data freedom", part 5): cursor paging in commit order, field scopes, DV等支援措置,
bearer-key authentication, tenant isolation, audit of every read, parameter errors and the OpenAPI document."""
import datetime as dt
import io
import json

import pytest
from conftest import person_values, sees_all_tenants
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from jichitai.api.actions import create_client, revoke_client
from jichitai.api.models import ApiClient, FeedEntry
from jichitai.api.scopes import ScopeError, allowed_fields, parse_scopes
from jichitai.audit.models import AuditEvent
from jichitai.audit.verify import verify_all
from jichitai.common.checkdigits import individual_number_check_digit
from jichitai.residents import actions
from jichitai.residents.models import SNAPSHOT_FIELDS, Person, PersonHistory
from jichitai.tenancy.scope import tenant_scope

D = dt.date
HONSEKI = "大分県日田市三本松二丁目3番"
HITTOSHA = "山田　太郎"


def number(first11="12345678901"):
    return first11 + str(individual_number_check_digit(first11))


MYNUMBER = number()


def url(m, **params):
    from urllib.parse import urlencode

    q = f"?{urlencode(params)}" if params else ""
    return f"/api/v1/municipalities/{m.code}/changes{q}"


def call(key, path):
    c = Client()
    return c.get(path, HTTP_AUTHORIZATION=f"Bearer {key}") if key else c.get(path)


def read_all(key, m, limit):
    """Page through the whole feed; returns (items, pages, last next)."""
    items, pages, after = [], 0, "0"
    while True:
        r = call(key, url(m, after=after, limit=limit))
        assert r.status_code == 200, r.content
        body = r.json()
        pages += 1
        assert len(body["items"]) <= limit
        items += body["items"]
        after = body["next"]
        if not body["has_more"]:
            return items, pages, after
        assert pages < 100


@pytest.fixture
def feed(town_a, town_b, staff):
    """A: two families (one head with a 個人番号), a 転居 and a death. B: one family with distinctive names."""
    a_head, a_wife, a_child = town_a.family(individual_number=MYNUMBER)
    t_head, _, _ = town_a.family(family_name="田中", kana="タナカ", address="隈一丁目1番")
    with tenant_scope(town_a.m):
        actions.register_move_within(town_a.actor(), t_head, expected_version=1, address="豆田町5番1号",
                                     change_date=D(2024, 4, 1), notification_date=D(2024, 4, 5), with_household=True)
        actions.register_death(town_a.actor(), a_child, expected_version=1, death_date=D(2024, 5, 1),
                               notification_date=D(2024, 5, 2))
    b_head, _, _ = town_b.family(family_name="綾野", kana="アヤノ", address="大字南俣999番地",
                                 honseki="宮崎県東諸県郡綾町大字南俣999番地")
    kokuho, kokuho_key = create_client(town_a.m, "国保", "kokuho", created_by=staff["admin_a"])
    zei, zei_key = create_client(town_a.m, "税", "zei,individual_number")
    b_client, b_key = create_client(town_b.m, "国保", "kokuho")
    with tenant_scope(town_a.m):
        a_hist = list(PersonHistory.objects.select_related("person").order_by("id"))
    return {"a": town_a.m, "b": town_b.m, "a_head": a_head, "t_head": t_head, "a_hist": a_hist,
            "kokuho": kokuho, "kokuho_key": kokuho_key, "zei": zei, "zei_key": zei_key,
            "b_client": b_client, "b_key": b_key, "town_a": town_a}


# ---------------------------------------------------------------- order and paging

@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_pages_cover_every_change_once_in_order(feed, limit):
    items, pages, last = read_all(feed["kokuho_key"], feed["a"], limit)
    expected = [(h.person.atena_no, h.history_no, h.change_kind) for h in feed["a_hist"]]
    assert len(expected) == 10
    assert [(i["atena_no"], i["history_no"], i["change"]["code"]) for i in items] == expected  # no gap, no dup
    cursors = [int(i["cursor"]) for i in items]
    assert cursors == sorted(set(cursors))
    assert last == items[-1]["cursor"]
    assert pages == -(-len(expected) // limit)  # has_more is false on the last full page: no empty extra page
    # polling at the end: nothing new, next stays where it was
    body = call(feed["kokuho_key"], url(feed["a"], after=last)).json()
    assert body["items"] == [] and body["next"] == last and body["has_more"] is False


def test_default_limit_and_item_shape(feed):
    body = call(feed["kokuho_key"], url(feed["a"])).json()
    assert len(body["items"]) == 10 and body["has_more"] is False
    assert body["municipality"] == {"code": "44204", "code6": feed["a"].code6, "name": "日田市"}
    first = body["items"][0]
    assert set(first) == {"cursor", "atena_no", "history_no", "change", "change_date", "notification_date",
                          "processed_at", "address_withheld", "person"}
    assert first["change"] == {"code": "move_in", "label": "転入", "group": "記載"}
    assert first["change_date"] == "2020-04-01" and first["notification_date"] == "2020-04-03"
    assert first["atena_no"] == feed["a_head"].atena_no
    assert "id" not in first and "person_id" not in first  # the internal id is never published
    death = [i for i in body["items"] if i["change"]["code"] == "death"]
    assert death and death[0]["change"] == {"code": "death", "label": "死亡", "group": "消除"}
    move = [i for i in body["items"] if i["change"]["code"] == "move_within"][0]
    assert move["change"]["group"] == "修正" and move["person"]["address"] == "豆田町5番1号"


def test_new_changes_appear_after_the_last_cursor(feed):
    _, _, last = read_all(feed["kokuho_key"], feed["a"], 100)
    town = feed["town_a"]
    with tenant_scope(feed["a"]):
        p = PersonHistory.objects.get(person=feed["a_head"], history_no=1).person
        actions.register_move_within(town.actor(), p, expected_version=p.version, address="中本町1番",
                                     change_date=D(2024, 6, 1), notification_date=D(2024, 6, 1), with_household=True)
    body = call(feed["kokuho_key"], url(feed["a"], after=last)).json()
    # the head and his wife move together (one household, one address; the child died in the fixture)
    assert [i["change"]["code"] for i in body["items"]] == ["move_within", "move_within"]
    assert body["items"][0]["atena_no"] == feed["a_head"].atena_no
    assert int(body["next"]) > int(last)


def test_a_row_committed_later_with_a_smaller_id_is_not_skipped(feed):
    """The reason the cursor is not PersonHistory.id: a transaction can insert id 50, commit after id 100 was
    served, and would be missed by `id > 100`. Simulated with explicit ids. PostgreSQL only: on SQLite writers are
    serialised and later rows always get larger ids, which the feed's scan watermark relies on (feed.py)."""
    _pg_only()
    _, _, last = read_all(feed["kokuho_key"], feed["a"], 100)
    top = max(h.id for h in feed["a_hist"])
    head = feed["a_head"]
    snap = dict(feed["a_hist"][0].snapshot)

    def insert(pk, no):
        with tenant_scope(feed["a"]):
            PersonHistory(id=pk, person_id=head.pk, history_no=no, change_kind="ex_officio_correction",
                          change_date=D(2024, 7, 1), processed_at=timezone.now(), operator="t",
                          snapshot=snap).save(force_insert=True)

    insert(top + 100, 100)  # committed first
    body = call(feed["kokuho_key"], url(feed["a"], after=last)).json()
    assert [i["history_no"] for i in body["items"]] == [100]
    served = body["next"]
    insert(top + 50, 50)  # smaller id, committed later
    body = call(feed["kokuho_key"], url(feed["a"], after=served)).json()
    assert [i["history_no"] for i in body["items"]] == [50]  # not skipped
    assert int(body["items"][0]["cursor"]) > int(served)  # and its cursor is after everything already served
    # positions are given once: reading again from the start gives the same cursors
    items, _, _ = read_all(feed["kokuho_key"], feed["a"], 3)
    assert [i["history_no"] for i in items][-2:] == [100, 50]
    with tenant_scope(feed["a"]):
        assert FeedEntry.objects.count() == len(feed["a_hist"]) + 2


def test_the_scan_watermark_follows_the_history_and_new_changes_are_served(feed):
    """sequence_new_rows looks only above FeedHead.scanned_id; the watermark reaches the highest history id once no
    row below it can still appear (at once on SQLite; on PostgreSQL one call later, when no older transaction
    runs), and changes made after that are still served, in order."""
    from jichitai.api.feed import sequence_new_rows
    from jichitai.api.models import FeedHead

    _, _, last = read_all(feed["kokuho_key"], feed["a"], 100)
    import time

    from django.db import connection

    deadline = time.monotonic() + 20
    with tenant_scope(feed["a"]):
        top = PersonHistory.objects.order_by("-id").first().id
        sequence_new_rows()
        while True:
            sequence_new_rows()
            head = FeedHead.objects.get(municipality=feed["a"])
            if head.scanned_id == top or connection.vendor != "postgresql" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    if head.scanned_id != top and connection.vendor == "postgresql":
        # On a shared server other sessions' transactions (in any database: xmin is cluster-wide) may have kept
        # running for all 20 s; then the watermark must have stayed below the rows they could still add to.
        with connection.cursor() as c:
            c.execute("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                      "AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)")
            older = c.fetchone()[0]
        assert older > 0, "the watermark stayed behind although no other transaction runs"
        assert head.scanned_id < top
    else:
        assert head.scanned_id == top
    p = feed["a_head"]
    with tenant_scope(feed["a"]):
        p = Person.objects.select_related("household").get(pk=p.pk)
        actions.register_move_within(feed["town_a"].actor(), p, expected_version=p.version, address="watermark町1番",
                                     change_date=D(2024, 9, 1), notification_date=D(2024, 9, 2),
                                     with_household=True)
    body = call(feed["kokuho_key"], url(feed["a"], after=last)).json()
    assert [i["change"]["code"] for i in body["items"]] == ["move_within", "move_within"]
    assert body["items"][0]["atena_no"] == p.atena_no
    assert int(body["items"][0]["cursor"]) > int(last)


# ---------------------------------------------------------------- field scopes and DV

def test_kokuho_never_receives_honseki_hittosha_or_individual_number(feed):
    r = call(feed["kokuho_key"], url(feed["a"]))
    body = r.json()
    text = r.content.decode()
    for secret in (HONSEKI, HITTOSHA, MYNUMBER, feed["a_head"].resident_code):
        assert secret not in text
    for item in body["items"]:
        assert set(item["person"]) == set(allowed_fields(["kokuho"]))
        assert not {"honseki", "hittosha", "individual_number", "resident_code"} & set(item["person"])
    assert "nhi" in body["fields"] and "honseki" not in body["fields"]


def test_individual_number_only_when_granted_by_name(feed):
    body = call(feed["zei_key"], url(feed["a"])).json()
    head_items = [i for i in body["items"] if i["atena_no"] == feed["a_head"].atena_no]
    assert head_items and all(i["person"]["individual_number"] == MYNUMBER for i in head_items)
    assert all("honseki" not in i["person"] and "nhi" not in i["person"] for i in body["items"])
    # no named set contains 個人番号, 住民票コード or 本籍
    for name in ("basic", "address", "kokuho", "zei", "fukushi", "insurance", "welfare", "foreign", "senkyo"):
        assert not {"individual_number", "resident_code"} & set(allowed_fields([name])), name
        if name != "koseki":
            assert not {"honseki", "hittosha"} & set(allowed_fields([name])), name
    assert allowed_fields(["koseki"]) == ["honseki", "hittosha"]
    assert allowed_fields(["honseki"]) == ["honseki"]
    with pytest.raises(ScopeError):
        parse_scopes("basic,everything")
    with pytest.raises(ScopeError):
        parse_scopes("")


def _items_of(body, atena_no):
    return [i for i in body["items"] if i["atena_no"] == atena_no]


def test_dv_protected_address_is_withheld_unless_granted(town_a, staff):
    head, wife, _ = town_a.family(dv_protected=True)
    _, kokuho_key = create_client(town_a.m, "国保", "kokuho")
    _, dv_key = create_client(town_a.m, "国保（支援措置対応）", "kokuho,dv_address")
    body = call(kokuho_key, url(town_a.m)).json()
    (item,) = _items_of(body, head.atena_no)
    assert item["address_withheld"] is True
    for f in ("address", "address_katagaki", "postal_code", "previous_address", "move_out_destination"):
        assert item["person"][f] is None
    assert item["person"]["dv_protected"] is True and item["person"]["family_name"] == "山田"
    (w,) = _items_of(body, wife.atena_no)  # the wife is not protected
    assert w["address_withheld"] is False and w["person"]["address"] == "三本松二丁目3番5号"
    body = call(dv_key, url(town_a.m)).json()
    (item,) = _items_of(body, head.atena_no)
    assert item["address_withheld"] is False and item["person"]["address"] == "三本松二丁目3番5号"


def test_protection_added_later_also_hides_the_earlier_snapshots(town_a):
    with tenant_scope(town_a.m):  # a person living alone
        head = actions.register_move_in(town_a.actor(), values=person_values(), change_date=D(2020, 4, 1),
                                        notification_date=D(2020, 4, 3))
        actions.register_move_within(town_a.actor(), head, expected_version=head.version, address="秘匿町1番",
                                     change_date=D(2024, 4, 1), notification_date=D(2024, 4, 1))
        head.refresh_from_db()
        actions.correct_person(town_a.actor(), head, expected_version=head.version, changes={"dv_protected": True},
                               change_date=D(2024, 4, 2), note="支援措置申出")
    _, key = create_client(town_a.m, "税", "zei")
    r = call(key, url(town_a.m))
    assert "秘匿町" not in r.content.decode()
    items = _items_of(r.json(), head.atena_no)
    assert len(items) == 3 and all(i["address_withheld"] and i["person"]["address"] is None for i in items)


def test_a_client_without_address_scope_gets_no_address_and_no_withheld_flag(town_a):
    head, _, _ = town_a.family(dv_protected=True)
    _, key = create_client(town_a.m, "選挙", "family_name,elector")
    body = call(key, url(town_a.m)).json()
    for i in body["items"]:
        assert set(i["person"]) == {"family_name", "elector"} and i["address_withheld"] is False


# ---------------------------------------------------------------- authentication and isolation

def _assert_error(r, status, code):
    assert r.status_code == status, (r.status_code, r.content)
    assert r["Content-Type"].startswith("application/json")
    e = r.json()["error"]
    assert e["code"] == code and e["message_ja"] and e["message_en"]
    assert e["message"] == f"{e['message_ja']} / {e['message_en']}"
    return e


def test_missing_unknown_malformed_and_revoked_keys_are_401(feed):
    m, key = feed["a"], feed["kokuho_key"]
    prefix = feed["kokuho"].key_prefix
    cases = [None, "", "nonsense", f"jk_{prefix}_" + "A" * 43, "jk_000000000000_" + "A" * 43, key + "x", key[:-1]]
    for k in cases:
        r = call(k, url(m))
        _assert_error(r, 401, "unauthorized")
        assert r["WWW-Authenticate"].startswith("Bearer")
        assert "山田" not in r.content.decode()
    r = Client().get(url(m), HTTP_AUTHORIZATION=f"Basic {key}")
    _assert_error(r, 401, "unauthorized")
    assert call(key, url(m)).status_code == 200
    revoke_client(feed["kokuho"])
    _assert_error(call(key, url(m)), 401, "unauthorized")
    with tenant_scope(m):
        assert AuditEvent.objects.filter(action="api.auth.revoked_key").count() == 1


def test_a_key_of_a_on_b_is_404_and_never_shows_b(feed):
    a_key = feed["kokuho_key"]
    r_other = call(a_key, url(feed["b"]))
    e = _assert_error(r_other, 404, "not_found")
    assert "綾" not in r_other.content.decode() and "南俣" not in r_other.content.decode()
    r_unknown = Client().get("/api/v1/municipalities/99999/changes", HTTP_AUTHORIZATION=f"Bearer {a_key}")
    assert r_unknown.status_code == 404 and r_unknown.json()["error"] == e  # indistinguishable from a missing code
    assert call(a_key, f"/api/v1/municipalities/{feed['a'].code6}/changes").status_code == 404
    with tenant_scope(feed["a"]):
        assert AuditEvent.objects.filter(action="api.changes.denied").count() == 3
    with tenant_scope(feed["b"]):
        assert not AuditEvent.objects.filter(action__startswith="api.changes").exists()
        assert not FeedEntry.objects.exists()  # nothing of B was even sequenced


def test_each_municipality_sees_only_its_own_changes(feed):
    a_items, _, _ = read_all(feed["kokuho_key"], feed["a"], 2)
    b_resp = call(feed["b_key"], url(feed["b"], limit=1000))
    b_items = b_resp.json()["items"]
    a_text = json.dumps(a_items, ensure_ascii=False)
    for secret in ("綾野", "アヤノ", "南俣", "宮崎県"):
        assert secret not in a_text
    assert len(a_items) == 10 and len(b_items) == 3
    assert {i["person"]["family_name"] for i in b_items} == {"綾野"}
    with tenant_scope(feed["b"]):
        b_atena = set(PersonHistory.objects.values_list("person__atena_no", flat=True))
    assert {i["atena_no"] for i in b_items} == b_atena
    # every served row belongs to its own municipality, and positions are numbered per municipality
    for m in (feed["a"], feed["b"]):
        with tenant_scope(m):
            entries = list(FeedEntry.objects.select_related("history"))
            assert entries and all(e.history.municipality_id == m.pk for e in entries)
            assert sorted(e.seq for e in entries) == list(range(1, len(entries) + 1))


def test_post_and_other_methods_are_refused(feed):
    c = Client()
    for method in (c.post, c.put, c.delete):
        r = method(url(feed["a"]), HTTP_AUTHORIZATION=f"Bearer {feed['kokuho_key']}")
        assert r.status_code == 405


# ---------------------------------------------------------------- audit

@sees_all_tenants
def test_every_read_is_audited_once_without_personal_numbers(feed):
    m = feed["a"]
    with tenant_scope(m):
        before = AuditEvent.objects.filter(action="api.changes.read").count()
    items, pages, _ = read_all(feed["zei_key"], m, 4)
    with tenant_scope(m):
        events = list(AuditEvent.objects.filter(action="api.changes.read").order_by("seq"))[before:]
    assert len(events) == pages == 3
    details = [json.loads(e.detail) for e in events]
    assert [d["after"] for d in details] == ["0", items[3]["cursor"], items[7]["cursor"]]
    assert [d["limit"] for d in details] == [4, 4, 4] and [d["count"] for d in details] == [4, 4, 2]
    prefix = feed["zei"].key_prefix
    for e, d in zip(events, details):
        assert e.actor_username == f"api:{prefix}:税" and e.actor_id is None and e.actor_role == "api_client"
        assert d["client"] == prefix and d["system"] == "税"
        assert e.municipality_id == m.pk and e.chain_key == m.code
        assert MYNUMBER not in e.detail and "山田" not in e.detail
    assert all(r.ok for r in verify_all())
    assert ApiClient.all_tenants.get(pk=feed["zei"].pk).last_used_at is not None


def test_parameter_errors_are_400_with_a_bilingual_message(feed):
    key, m = feed["kokuho_key"], feed["a"]
    with tenant_scope(m):
        before = AuditEvent.objects.count()
    for after in ("abc", "-1", "1.5", "1e3", "9" * 19, " 1", "０"):
        e = _assert_error(call(key, url(m, after=after)), 400, "invalid_after")
        assert e["parameter"] == "after" and "after" in e["message_ja"]
    for limit in ("0", "1001", "x", "-5", "10.0", "99999999", ""):
        e = _assert_error(call(key, url(m, limit=limit)), 400, "invalid_limit")
        assert e["parameter"] == "limit" and "1000" in e["message_en"]
    assert call(key, url(m, limit="1000")).status_code == 200
    assert call(key, url(m, limit="1", after="0")).status_code == 200
    with tenant_scope(m):
        assert AuditEvent.objects.count() == before + 2  # only the two successful reads


# ---------------------------------------------------------------- keys, command, OpenAPI

@sees_all_tenants
def test_the_secret_is_never_stored(feed):
    key = feed["kokuho_key"]
    secret = key.split("_", 2)[2]
    row = ApiClient.all_tenants.filter(pk=feed["kokuho"].pk).values().get()
    assert all(secret not in str(v) for v in row.values())
    assert row["key_prefix"] == key.split("_")[1] and len(row["key_hash"]) == 64
    assert row["created_by_id"] == feed["kokuho"].created_by_id and row["is_active"]


@sees_all_tenants
def test_management_command_create_list_revoke(munis, staff):
    a = munis[0]
    out = io.StringIO()
    call_command("api_client", "create", "--municipality", a.code, "--system", "国保", "--scopes", "basic,kokuho",
                 "--created-by", "admin-a", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("jk_")
    client = ApiClient.all_tenants.get()
    assert client.scopes == ["basic", "kokuho"] and client.created_by == staff["admin_a"]
    assert call(key, url(a)).status_code == 200
    out = io.StringIO()
    call_command("api_client", "list", stdout=out)
    assert client.key_prefix in out.getvalue() and key.split("_", 2)[2] not in out.getvalue()
    call_command("api_client", "revoke", client.key_prefix, stdout=io.StringIO())
    assert call(key, url(a)).status_code == 401
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("api_client", "create", "--municipality", a.code, "--system", "税", "--scopes", "all",
                     stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("api_client", "create", "--municipality", "99999", "--system", "税", "--scopes", "zei",
                     stdout=io.StringIO())
    with tenant_scope(a):
        assert AuditEvent.objects.filter(action__in=["api.client.create", "api.client.revoke"]).count() == 2


def test_openapi_document(db):
    r = Client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    doc = json.loads(r.content)
    assert doc["openapi"].startswith("3.")
    op = doc["paths"]["/api/v1/municipalities/{code}/changes"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"code", "after", "limit"}
    assert set(op["responses"]) == {"200", "400", "401", "404"}
    assert doc["components"]["securitySchemes"]["bearerKey"]["scheme"] == "bearer"
    props = doc["components"]["schemas"]["Change"]["properties"]
    person = props["person"]["properties"]
    assert set(person) == set(SNAPSHOT_FIELDS) - {"atena_no"}
    assert person["honseki"]["title"] == "本籍" and person["individual_number"]["title"] == "個人番号"
    assert person["household_no"]["title"] == "世帯番号" and props["atena_no"]["title"] == "宛名番号"
    assert all(s.get("title") for s in person.values())

    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(doc):
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"]


# ---------------------------------------------------------------- real concurrency (PostgreSQL)

def _pg_only():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers (IMMEDIATE transactions): ids are handed out in commit order there")


@pytest.mark.django_db(transaction=True)
def test_an_open_transaction_holding_a_smaller_id_is_served_after_it_commits(town_a):
    import threading

    from django.db import connection, transaction

    _pg_only()
    head, _, _ = town_a.family()
    _, key = create_client(town_a.m, "国保", "kokuho")
    _, _, last = read_all(key, town_a.m, 100)
    with tenant_scope(town_a.m):
        snap = PersonHistory.objects.filter(person=head).first().snapshot

    def row(no):
        return PersonHistory(person_id=head.pk, history_no=no, change_kind="ex_officio_correction",
                             change_date=D(2024, 7, 1), processed_at=timezone.now(), operator="t", snapshot=snap)

    inserted, release, ids, errors = threading.Event(), threading.Event(), {}, []

    def slow_writer():
        try:
            with tenant_scope(town_a.m), transaction.atomic():
                r = row(100)
                r.save()
                ids["slow"] = r.pk
                inserted.set()
                assert release.wait(30)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
            inserted.set()
        finally:
            connection.close()

    t = threading.Thread(target=slow_writer)
    t.start()
    try:
        assert inserted.wait(30) and not errors
        with tenant_scope(town_a.m):
            fast = row(101)
            fast.save()  # a larger id, committed first
        assert fast.pk > ids["slow"]
        body = call(key, url(town_a.m, after=last)).json()
        assert [i["history_no"] for i in body["items"]] == [101]  # the open transaction's row is not visible yet
        served = body["next"]
    finally:
        release.set()
        t.join(30)
    assert not errors
    body = call(key, url(town_a.m, after=served)).json()
    assert [i["history_no"] for i in body["items"]] == [100]  # served, with a cursor after the one already served
    assert int(body["items"][0]["cursor"]) > int(served)


@pytest.mark.django_db(transaction=True)
def test_concurrent_readers_give_each_row_one_position(town_a):
    import threading

    from django.db import connection

    _pg_only()
    town_a.family()
    town_a.family(family_name="田中", kana="タナカ")
    _, key = create_client(town_a.m, "国保", "kokuho")
    results, errors = [], []
    start = threading.Barrier(4)

    def reader():
        try:
            start.wait(10)
            results.append(read_all(key, town_a.m, 2)[0])
        except Exception as e:  # pragma: no cover
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 4
    assert all([i["cursor"] for i in r] == [i["cursor"] for i in results[0]] for r in results)
    with tenant_scope(town_a.m):
        assert FeedEntry.objects.count() == PersonHistory.objects.count() == 6
        assert sorted(FeedEntry.objects.values_list("seq", flat=True)) == list(range(1, 7))


# ---------------------------------------------------------------- methods (issue 9, item 7)

def _api_urls(m):
    """Every URL the API app serves (a new endpoint is covered without editing this test)."""
    from django.urls import URLPattern

    from jichitai.api import urls

    out = []
    for p in urls.urlpatterns:
        assert isinstance(p, URLPattern)
        route = str(p.pattern)
        out.append("/" + route.replace("<str:code>", m.code).replace("<path:rest>", "v1/nothing-here"))
    return out


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_api_url_answers_unsupported_methods_with_405_json_not_csrf_html(feed, staff, method):
    urls = _api_urls(feed["a"])
    assert f"/api/v1/municipalities/{feed['a'].code}/changes" in urls and "/api/v1/openapi.json" in urls
    # CSRF enforced as in a browser, and even with a staff session cookie
    for c in (Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)):
        for u in urls:
            r = getattr(c, method)(u, data="{}", content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Bearer {feed['kokuho_key']}")
            assert r["Content-Type"].startswith("application/json"), (u, r.status_code, r.content[:200])
            body = r.json()
            if "nothing-here" in u or u == "/api/":
                assert r.status_code == 404 and body["error"]["code"] == "no_such_endpoint"
                continue
            assert r.status_code == 405, u
            assert r["Allow"] == "GET, HEAD, OPTIONS"
            assert body["error"]["code"] == "method_not_allowed" and "GET" in body["error"]["message_ja"]
            assert body["error"]["method"] == method.upper()
        c.force_login(staff["admin_a"])
    # a refused method reads nothing and writes nothing
    with tenant_scope(feed["a"]):
        assert not AuditEvent.objects.filter(action="api.changes.read").exists()


def test_api_options_and_head(feed):
    c = Client(enforce_csrf_checks=True)
    u = url(feed["a"])
    r = c.options(u)
    assert r.status_code == 204 and r["Allow"] == "GET, HEAD, OPTIONS"
    r = c.head(u, HTTP_AUTHORIZATION=f"Bearer {feed['kokuho_key']}")
    assert r.status_code == 200
    assert c.get("/api/v1/openapi.json").status_code == 200
