from django.urls import path

from . import views

urlpatterns = [
    path("continuity/backups/", views.backups_view, name="continuity_backups"),
]
