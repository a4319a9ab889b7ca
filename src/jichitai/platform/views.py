"""The platform's index page (共同利用): links to each screen the signed-in user may use."""
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from jichitai.tenancy.roles import Perm, Role, has_perm


def home(request):
    if not request.user.is_authenticated:
        raise PermissionDenied
    operator = has_perm(request.user, Perm.MANAGE_TENANTS)
    if not operator and request.user.role != Role.ADMIN:
        raise PermissionDenied
    return render(request, "platform/home.html", {"operator": operator})
