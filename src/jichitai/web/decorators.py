import functools

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from jichitai.tenancy.roles import Perm, has_perm


def staff_required(perm: str):
    """Signed in, holding `perm`; resident permissions also need the user's municipality in scope."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_perm(request.user, perm):
                raise PermissionDenied
            if perm != Perm.MANAGE_TENANTS and getattr(request, "municipality", None) is None:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
