from jichitai.tenancy.roles import Perm, has_perm


def staff_context(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if hasattr(user, "is_verified"):
        from jichitai.tenancy.middleware import MFARequiredMiddleware

        if MFARequiredMiddleware.required_step(request, user) is not None:
            # signed in with a password but a step is still due (code, enrolment, new password): no menu
            return {"municipality": getattr(request, "municipality", None), "sign_in_pending": True}
    ctx = {
        "municipality": getattr(request, "municipality", None),
        "can_view_residents": has_perm(user, Perm.VIEW_RESIDENTS),
        "can_change_residents": has_perm(user, Perm.CHANGE_RESIDENTS),
        "can_view_audit": has_perm(user, Perm.VIEW_AUDIT),
        "can_manage_tenants": has_perm(user, Perm.MANAGE_TENANTS),
        "can_view_gaiji": has_perm(user, Perm.VIEW_GAIJI),
        "can_manage_gaiji": has_perm(user, Perm.MANAGE_GAIJI),
        "can_issue_certificates": has_perm(user, Perm.ISSUE_CERTIFICATES),
        "can_manage_certificate_settings": has_perm(user, Perm.MANAGE_CERTIFICATE_SETTINGS),
        "can_manage_privacy_settings": has_perm(user, Perm.MANAGE_PRIVACY_SETTINGS),
        "can_manage_staff": has_perm(user, Perm.MANAGE_STAFF),
        "can_disaster_response": has_perm(user, Perm.DISASTER_RESPONSE),
        "can_manage_bcp": has_perm(user, Perm.MANAGE_BCP),
        "offline_kit": _offline_kit(),
        "can_manage_chouaza": has_perm(user, Perm.MANAGE_CHOUAZA),
        **_intake_nav(request, user),
    }
    ctx["nav_groups"] = nav_groups(ctx, getattr(request, "path", ""))
    return ctx


# The main menu: groups of (label, URL name, who may use it — the context's can_* flags). Only links the user's role
# may use are listed; a group left with one link is shown as that link; the first group's links stay in the bar.
NAV = [
    ("", [("ホーム", "dashboard", lambda c: c["can_view_residents"]),
          ("住民検索", "search", lambda c: c["can_view_residents"])]),
    ("窓口", [("転入", ("new_person", "move_in"), lambda c: c["can_change_residents"]),
             ("届出の受付（オフライン）", "offline_intake_new", lambda c: c["can_change_residents"] and c["offline_kit"]),
             ("外字", "gaiji_list", lambda c: c["can_view_gaiji"])]),
    ("名簿・帳票", [("帳票", "lists_index", lambda c: c["can_view_residents"]),
                ("交付簿", "certificate_log", lambda c: c["can_issue_certificates"]),
                ("データ出力", "interchange_export", lambda c: c["can_view_audit"])]),
    ("災害対応", [("災害対応", "disaster_home", lambda c: c["can_disaster_response"])]),
    ("業務継続", [("ICT-BCP", "bcp_plan", lambda c: c["can_manage_bcp"]),
              ("オフラインキット", "offline_kits", lambda c: c["can_manage_bcp"]),
              ("バックアップ", "continuity_backups", lambda c: c["can_view_audit"])]),
    ("管理", [("監査ログ", "audit_log", lambda c: c["can_view_audit"]),
            ("個人情報保護", "privacy_settings", lambda c: c["can_manage_privacy_settings"]),
            ("証明書設定", "certificate_settings", lambda c: c["can_manage_certificate_settings"]),
            ("町字マスタ", "chouaza_list", lambda c: c["can_manage_chouaza"]),
            ("職員管理", "staff_list", lambda c: c["can_manage_staff"])]),
    ("プラットフォーム", [("共同利用", "platform_home", lambda c: c["can_manage_staff"] or c["can_manage_tenants"]),
                  ("団体管理", "platform_tenants", lambda c: c["can_manage_tenants"]),
                  ("証明書の標準設定", "platform_certificate_settings", lambda c: c["can_manage_tenants"]),
                  ("災害の宣言", "disaster_operator_declare", lambda c: c["can_manage_tenants"])]),
]
ACCESS_KEYS = {"dashboard": ("h", ""), "search": ("s", "Alt+S")}


def nav_groups(ctx: dict, path: str = "") -> list:
    """The menu for the flags in `ctx`: [{"label", "links": [{"label", "url", "accesskey", "kbd", "current"}],
    "current"}], groups without a link the user may use left out. `current`: the page at `path` is the link's
    (or below it), so the group containing it is marked."""
    from django.urls import reverse

    out = []
    for label, links in NAV:
        shown = []
        for text, name, allowed in links:
            if not allowed(ctx):
                continue
            url = reverse(name[0], args=name[1:]) if isinstance(name, tuple) else reverse(name)
            key, kbd = ACCESS_KEYS.get(name if isinstance(name, str) else "", ("", ""))
            current = path == url or (url != "/" and path.startswith(url))
            shown.append({"label": text, "url": url, "accesskey": key, "kbd": kbd, "current": current})
        if shown:
            out.append({"label": label, "links": shown, "current": any(x["current"] for x in shown)})
    return out


def _offline_kit():
    """On an offline kit: its device and reserved certificate numbers, for the header's オフライン運用中 banner."""
    from jichitai.continuity import offline

    return offline.kit_state() if offline.offline_mode() else None


def _intake_nav(request, user):
    """決裁待ち in the navigation: the count of changes the user may decide, or of his own returned ones."""
    if getattr(request, "municipality", None) is None or not has_perm(user, Perm.CHANGE_RESIDENTS):
        return {}
    from jichitai.residents.queries import intake_counts

    return {"can_approve_changes": has_perm(user, Perm.APPROVE_CHANGES), "intake_counts": intake_counts(user)}
