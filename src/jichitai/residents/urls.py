from django.urls import path

from . import intake_views

urlpatterns = [
    path("intakes/", intake_views.intake_list, name="intake_list"),
    path("intakes/<int:intake_id>/", intake_views.intake_detail, name="intake_detail"),
    path("intakes/settings/", intake_views.change_settings, name="change_settings"),
]
