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
    return {
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
