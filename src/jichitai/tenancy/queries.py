"""Reads of staff identity. Staff are always read within one municipality: another municipality's staff (and
the operator) are simply not found."""
from django.http import Http404

from .models import StaffUser
from .roles import Role


def staff_of(municipality):
    return (StaffUser.objects.filter(municipality=municipality).exclude(role=Role.OPERATOR)
            .order_by("-is_active", "role", "username"))


def staff_member(municipality, staff_id) -> StaffUser:
    user = staff_of(municipality).select_related("municipality").filter(pk=staff_id).first()
    if user is None:
        raise Http404("staff not found")
    return user


def mfa_status(user) -> dict:
    from django_otp.plugins.otp_static.models import StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return {"enrolled": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
            "recovery_left": StaticToken.objects.filter(device__user=user).count()}
