"""The product's URL patterns, plus /_bench/minimal/: the smallest page a signed-in clerk can get from the same
stack (same middleware: session, authentication, tenant, MFA; the same sign-in required) — the throughput anchor of
bench-load."""
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from jichitai.urls import handler403, handler404, urlpatterns as product_patterns  # noqa: F401


@login_required
def minimal(request):
    return HttpResponse(f"ok {request.user.pk}\n", content_type="text/plain; charset=utf-8")


urlpatterns = [path("_bench/minimal/", minimal), *product_patterns]
