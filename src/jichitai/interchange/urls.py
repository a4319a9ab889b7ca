from django.urls import path

from . import views

urlpatterns = [
    path("interchange/export/", views.export_view, name="interchange_export"),
]
