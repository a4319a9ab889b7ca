from django.urls import path

from . import bcp_views as views

urlpatterns = [
    path("continuity/bcp/", views.plan, name="bcp_plan"),
    path("continuity/bcp/edit/", views.plan_edit, name="bcp_plan_edit"),
    path("continuity/bcp/print/", views.plan_print, name="bcp_plan_print"),
    path("continuity/bcp/plan.pdf", views.plan_pdf, name="bcp_plan_pdf"),
    path("continuity/drills/", views.drills, name="bcp_drills"),
    path("continuity/drills/<int:drill_id>/", views.drill, name="bcp_drill"),
    path("continuity/drills/<int:drill_id>/do/", views.drill_action, name="bcp_drill_action"),
]
