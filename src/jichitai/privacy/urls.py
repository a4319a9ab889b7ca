from django.urls import path

from . import views

urlpatterns = [
    path("privacy/settings/", views.settings_view, name="privacy_settings"),
]
