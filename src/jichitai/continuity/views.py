from django.shortcuts import render

from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from . import queries, service


@staff_required(Perm.VIEW_AUDIT)
def backups_view(request):
    m = request.municipality
    return render(request, "continuity/backups.html", {
        "last_verified": queries.last_verified(m),
        "recent": queries.recent(m),
        "policy": service.retention_policy(),
        "code": m.code,
        "drill": (queries.latest_drills(1) or [None])[0],
    })
