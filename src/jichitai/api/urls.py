from django.urls import path

from . import views

urlpatterns = [
    path("api/v1/municipalities/<str:code>/changes", views.changes, name="api_changes"),
    path("api/v1/openapi.json", views.openapi, name="api_openapi"),
    path("api/", views.no_such_endpoint, name="api_root"),
    path("api/<path:rest>", views.no_such_endpoint, name="api_not_found"),  # last: everything else under /api/ answers JSON
]
