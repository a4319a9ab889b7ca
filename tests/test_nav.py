"""The main menu (web/base.html, web/context.py NAV): grouped into menus that work with the keyboard and without
JavaScript (<details>), and listing for each role only what that role may open."""
import re

import pytest
from conftest import client_for

ROLES = ["admin_a", "clerk_a", "viewer_a", "disaster_a", "operator"]


def _nav(body):
    return body.split('<nav aria-label="メインメニュー"', 1)[1].split("</nav>", 1)[0]


def _links(nav):
    return re.findall(r'<a href="([^"]+)"', nav)


@pytest.mark.parametrize("role", ROLES)
def test_every_menu_link_opens_for_the_role_that_sees_it(staff, role):
    c = client_for(staff[role])
    nav = _nav(c.get("/" if role != "operator" else "/platform/shared/").content.decode())
    links = _links(nav)
    assert links, role
    for url in links:
        r = c.get(url)
        assert r.status_code == 200, (role, url, r.status_code)


def test_the_menu_differs_by_role_and_groups_into_keyboard_menus(staff):
    admin = _nav(client_for(staff["admin_a"]).get("/").content.decode())
    viewer = _nav(client_for(staff["viewer_a"]).get("/").content.decode())
    # the admin's many links are in groups: each a <details> whose <summary> is reached by Tab and opened by Enter
    summaries = re.findall(r"<summary[^>]*>([^<]+)</summary>", admin)
    assert {"窓口", "名簿・帳票", "業務継続", "管理"} <= set(summaries)
    assert "<script" not in admin
    assert 'accesskey="s"' in admin and "/audit/" in admin and "/staff/" in admin
    # a viewer may use neither the audit log nor staff management nor 転入: not offered; one-link groups are links
    for url in ("/audit/", "/staff/", "/residents/new/move_in/", "/interchange/export/"):
        assert url not in viewer, url
    assert "<details" not in viewer and "/lists/" in viewer
    # the page in hand is marked in the menu
    audit = _nav(client_for(staff["admin_a"]).get("/audit/").content.decode())
    assert re.search(r'<summary class="current">管理</summary>', audit)
    assert re.search(r'<a href="/audit/" aria-current="page">', audit)
