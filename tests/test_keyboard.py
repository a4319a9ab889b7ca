"""Keyboard-first (issue 10, item 9), as far as the HTML decides it: focus on the first field of every change
form and of the search form (the first refused field after an error), and a confirmation page whose focus and
default button are 戻って修正, so a stray Enter never registers. (Checked in Chromium too: docs/screenshots.)"""
import re

import pytest
from django.test import Client

from jichitai.residents import views

from conftest import INTAKE


def _autofocused(body):
    return re.findall(r'<(?:input|select|textarea|button)[^>]*\bautofocus\b[^>]*>', body)


@pytest.fixture
def clerk(env, staff):
    c = Client()
    c.force_login(staff["clerk_a"])
    return c


def _urls(env):
    for kind in views.PERSON_KINDS_ACTIVE:
        yield kind, f"/residents/{env.wife.pk}/change/{kind}/"
    for kind in views.HOUSEHOLD_KINDS:
        yield kind, f"/households/{env.head.household_id}/change/{kind}/"
    for kind in views.NEW_KINDS:
        yield kind, f"/residents/new/{kind}/"


def test_every_change_form_opens_with_the_focus_on_its_first_field(env, clerk):
    for kind, url in _urls(env):
        body = clerk.get(url).content.decode()
        focused = _autofocused(body)
        assert len(focused) == 1, (kind, focused)
        form = body.split('<form method="post" class="grid"')[1]
        first = re.search(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*>', form).group(0)
        assert "autofocus" in first, (kind, first)


def test_search_form_focuses_the_name(clerk):
    focused = _autofocused(clerk.get("/residents/").content.decode())
    assert len(focused) == 1 and 'name="name"' in focused[0]


def test_after_an_error_the_focus_is_on_the_first_refused_field(env, clerk):
    wife = env.fresh(env.wife)
    r = clerk.post(f"/residents/{wife.pk}/change/death/",
                   {**INTAKE, "expected_version": wife.version, "death_date": "2024-05-01", "notification_date": "2020-01-01",
                    "step": "confirm"})
    assert r.status_code == 422
    focused = _autofocused(r.content.decode())
    assert len(focused) == 1 and 'name="notification_date"' in focused[0]


def test_a_stray_enter_on_the_confirmation_page_does_not_register(env, clerk):
    wife = env.fresh(env.wife)
    r = clerk.post(f"/residents/{wife.pk}/change/death/",
                   {**INTAKE, "expected_version": wife.version, "death_date": "2024-05-01", "notification_date": "2024-05-02",
                    "step": "confirm"})
    body = r.content.decode()
    form = body.split('<form method="post">')[1].split("</form>")[0]
    buttons = re.findall(r"<button[^>]*>[^<]*</button>", form)
    # the first submit button is the form's default one: 戻って修正, which also has the focus
    assert "戻って修正" in buttons[0] and "autofocus" in buttons[0] and 'value="edit"' in buttons[0]
    assert "登録する" in buttons[1] and "autofocus" not in buttons[1]
    assert not re.search(r'<input(?![^>]*type="hidden")', form)  # no text field: Enter cannot submit implicitly
    assert len(_autofocused(body)) == 1
    # 戻って修正 returns to the form with everything typed
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    r = clerk.post(f"/residents/{wife.pk}/change/death/", {**INTAKE, **hidden, "step": "edit"})
    assert r.status_code == 200 and 'value="2024-05-01"' in r.content.decode()
    assert env.fresh(wife).status == "resident"
