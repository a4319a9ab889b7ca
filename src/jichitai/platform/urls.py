from django.urls import path

from . import ceptoar_views, cost_views, evidence_views, exit_views, fitgap_views, licence_views, settings_views, sla_views, views

urlpatterns = [
    path("platform/shared/", views.home, name="platform_home"),
    path("platform/settings/", settings_views.settings_index, name="platform_settings"),
    path("platform/settings/<str:key>/", settings_views.setting_edit, name="platform_setting_edit"),
    path("platform/approvals/", settings_views.approvals, name="platform_approvals"),
    path("platform/approvals/<int:pk>/", settings_views.approval_decide, name="platform_approval_decide"),
    path("platform/requirements/", fitgap_views.requirements, name="platform_requirements"),
    path("platform/requirements/<str:code>/<int:pk>/classify/", fitgap_views.classify, name="platform_classify"),
    path("platform/fitgap/", fitgap_views.fitgap, name="platform_fitgap"),
    path("platform/fitgap/<str:row>/", fitgap_views.fitgap_drill, name="platform_fitgap_drill"),
    path("platform/costs/", cost_views.cost_index, name="platform_costs"),
    path("platform/costs/<int:year>/<str:code>/", cost_views.statement, name="platform_statement_of"),
    path("platform/statement/", cost_views.statement, name="platform_statement"),
    path("platform/exits/", exit_views.exits, name="platform_exits"),
    path("platform/exits/<int:pk>/", exit_views.exit_detail, name="platform_exit"),
    path("platform/exits/<int:pk>/archive/", exit_views.exit_archive, name="platform_exit_archive"),
    path("platform/exits/<int:pk>/certificate/", exit_views.exit_certificate, name="platform_exit_certificate"),
    path("platform/advisories/", ceptoar_views.advisories, name="platform_advisories"),
    path("platform/advisories/<int:pk>/", ceptoar_views.advisory_detail, name="platform_advisory"),
    path("platform/sla/", sla_views.sla_index, name="platform_sla"),
    path("platform/sla/incidents/<int:pk>/", sla_views.incident_detail, name="platform_incident"),
    path("platform/probe/<str:code>/", sla_views.probe, name="platform_probe"),
    path("platform/licences/", licence_views.licence_index, name="platform_licences"),
    path("platform/evidence/", evidence_views.evidence_page, name="platform_evidence"),
]
