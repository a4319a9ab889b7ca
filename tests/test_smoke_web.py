"""A counter clerk's day: sign in, search, open a person, record a 転居 with the confirmation step."""
import re

import pytest

from jichitai.residents.models import Person, PersonHistory
from jichitai.tenancy.scope import tenant_scope

from conftest import INTAKE


@pytest.mark.django_db
def test_login_page_is_japanese(client):
    r = client.get("/login/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "ログイン" in body and 'lang="ja"' in body
    assert "Content-Security-Policy" in r.headers
    assert "http://" not in body.split("<body>")[0] and "https://" not in body  # no asset from the internet


@pytest.mark.django_db
def test_clerk_search_view_and_move(town_a, staff, login):
    head, wife, child = town_a.family()
    c = login(staff["clerk_a"])
    r = c.get("/residents/", {"kana": "やまだ"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "山田　太郎" in body and "山田　花子" in body
    r = c.get(f"/residents/{head.pk}/")
    assert r.status_code == 200 and "異動履歴" in r.content.decode()
    url = f"/residents/{head.pk}/change/move_within/"
    data = {**INTAKE, "expected_version": head.version, "address": "豆田町5番1号", "change_date": "R6.4.1",
            "notification_date": "令和6年4月5日", "household_mode": "all", "step": "confirm"}
    r = c.post(url, data)
    assert r.status_code == 200 and "登録する" in r.content.decode()
    with tenant_scope(town_a.m):
        assert Person.objects.get(pk=head.pk).address == "三本松二丁目3番5号"  # nothing written before commit
    r = c.post(url, {**INTAKE, **data, "step": "commit"})
    assert r.status_code == 302
    r = c.get(f"/residents/{head.pk}/")
    body = r.content.decode()
    assert "転居" in body and "豆田町5番1号" in body
    with tenant_scope(town_a.m):
        assert Person.objects.get(pk=wife.pk).address == "豆田町5番1号"
        assert PersonHistory.objects.filter(person=head).count() == 2


@pytest.mark.django_db
def test_idle_timeout_signs_out(town_a, staff, login, settings):
    import time

    c = login(staff["clerk_a"])
    assert c.get("/residents/").status_code == 200
    session = c.session
    session["last_seen"] = int(time.time()) - settings.JICHITAI_IDLE_TIMEOUT_SECONDS - 5
    session.save()
    r = c.get("/residents/")
    assert r.status_code == 302 and r.url.startswith("/login/")
    assert c.get("/residents/").status_code == 302  # really signed out, not just redirected once


@pytest.mark.django_db
def test_head_change_updates_other_relationships(town_a, staff, login):
    """When the son becomes head, his mother's and others' 続柄 are re-stated relative to him."""
    head, wife, child = town_a.family()
    c = login(staff["clerk_a"])
    url = f"/households/{head.household_id}/change/head_change/"
    version = re.search(r'name="expected_version" value="(\d+)"', c.get(url).content.decode()).group(1)
    data = {"new_head": wife.pk, "former_head_relationship": "夫", f"rel_{child.pk}": "子",
            "change_date": "2024-01-10", "notification_date": "2024-01-12", "expected_version": version}
    assert c.post(url, {**INTAKE, **data, "step": "confirm"}).status_code == 200
    r = c.post(url, {**INTAKE, **data, "step": "commit"})
    assert r.status_code == 302
    with tenant_scope(town_a.m):
        wife = Person.objects.get(pk=wife.pk)
        head = Person.objects.get(pk=head.pk)
        assert wife.is_head and wife.relationship == "世帯主"
        assert not head.is_head and head.relationship == "夫"
        assert wife.household.head_id == wife.pk
