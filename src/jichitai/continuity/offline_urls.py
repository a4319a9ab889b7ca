from django.urls import path

from . import offline_views as views

urlpatterns = [
    path("continuity/offline/", views.kits, name="offline_kits"),
    path("continuity/offline/kits/<int:offline_kit_id>/revoke/", views.revoke, name="offline_kit_revoke"),
    path("continuity/offline/conflicts/<int:conflict_id>/", views.decide, name="offline_decide"),
    path("continuity/offline/intakes/", views.intakes, name="offline_intakes"),
    path("continuity/offline/intakes/<int:offline_intake_id>/done/", views.intake_done, name="offline_intake_done"),
    path("continuity/offline/intake/", views.intake_new, name="offline_intake_new"),
]
