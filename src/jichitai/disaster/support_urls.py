from django.urls import path

from . import support_views as v

urlpatterns = [
    path("disaster/vulnerable/", v.roster, name="vulnerable_roster"),
    path("disaster/vulnerable/roster.pdf", v.roster_pdf, name="vulnerable_roster_pdf"),
    path("disaster/vulnerable/roster.csv", v.roster_csv, name="vulnerable_roster_csv"),
    path("disaster/vulnerable/find/", v.find_person, name="vulnerable_find"),
    path("disaster/vulnerable/import/", v.roster_import, name="vulnerable_import"),
    path("disaster/vulnerable/new/<int:person_id>/", v.entry, name="vulnerable_new"),
    path("disaster/vulnerable/<int:vp_id>/", v.entry, name="vulnerable_edit"),
    path("disaster/vulnerable/<int:vp_id>/delist/", v.delist, name="vulnerable_delist"),
    path("disaster/vulnerable/<int:vp_id>/supporters/", v.supporter_add, name="vulnerable_supporter_add"),
    path("disaster/vulnerable/<int:vp_id>/supporters/<int:supporter_id>/remove/", v.supporter_remove,
         name="vulnerable_supporter_remove"),
    path("disaster/<int:disaster_id>/ledger/", v.ledger_list, name="victim_ledger_list"),
    path("disaster/ledger/<int:ledger_id>/", v.ledger, name="victim_ledger"),
    path("disaster/ledger/<int:ledger_id>/save/", v.ledger_save, name="victim_ledger_save"),
    path("disaster/ledger/<int:ledger_id>/assessments/", v.assessment_add, name="victim_assessment_add"),
    path("disaster/ledger/<int:ledger_id>/relief/", v.relief_add, name="victim_relief_add"),
    path("disaster/ledger/<int:ledger_id>/provisions/", v.provision_add, name="victim_provision_add"),
    path("disaster/ledger/<int:ledger_id>/certificate/", v.certificate, name="victim_certificate"),
]
