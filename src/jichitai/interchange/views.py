"""The municipal admin's download of the standard layout (a ZIP of the export directory)."""
import tempfile
import zipfile
from pathlib import Path

from django.http import FileResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from jichitai.audit.actions import terminal_of
from jichitai.gaiji.models import GaijiMapping
from jichitai.privacy import policy
from jichitai.residents.models import Household, Person, PersonHistory
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from .export import export_municipality
from .layout import LAYOUT_VERSION, RESOURCES


def build_zip(municipality, *, reader, actor=None, terminal="system", created_at=None):
    """Export into a temporary directory and pack it as a ZIP in a temporary file (deleted when closed)."""
    created_at = created_at or timezone.now()
    out = tempfile.TemporaryFile(suffix=".zip")
    with tempfile.TemporaryDirectory(prefix="jichitai-export-") as tmp:
        root = Path(tmp) / "layout"
        # one process: a web server process (threaded runserver, gunicorn) is not forked for workers
        export_municipality(root, reader=reader, actor=actor, terminal=terminal, created_at=created_at, workers=1)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for path in sorted(root.iterdir()):
                z.write(path, arcname=path.name)
    out.seek(0)
    return out


@staff_required(Perm.VIEW_AUDIT)
@require_http_methods(["GET", "POST"])
def export_view(request):
    m = request.municipality
    may_include = policy.for_staff(request.user).dv_addresses
    if request.method == "POST" and request.POST.get("confirm") != "1":
        return render(request, "interchange/export.html", {**_context(may_include), "error": True}, status=400)
    if request.method == "POST":
        include = request.POST.get("include_protected") == "1"
        try:
            reader = policy.for_export(request.user, include_protected_addresses=include)
        except policy.ProtectedExportRefused:
            return render(request, "interchange/export.html",
                          {**_context(may_include), "refused": True}, status=403)
        now = timezone.now()
        data = build_zip(m, reader=reader, actor=request.user, terminal=terminal_of(request), created_at=now)
        name = f"jichitai-standard-layout-{m.code}-{timezone.localtime(now):%Y%m%d-%H%M%S}.zip"
        return FileResponse(data, as_attachment=True, filename=name, content_type="application/zip")
    return render(request, "interchange/export.html", _context(may_include))


def _context(may_include: bool):
    counts = {
        "persons": Person.objects.count(),
        "removed": Person.objects.filter(status="removed").count(),
        "dv_protected": Person.objects.filter(policy.protected_q()).count(),
        "households": Household.objects.count(),
        "history": PersonHistory.objects.count(),
        "gaiji": GaijiMapping.objects.count(),
    }
    return {"counts": counts, "layout_version": LAYOUT_VERSION, "resources": RESOURCES,
            "may_include_protected": may_include}
