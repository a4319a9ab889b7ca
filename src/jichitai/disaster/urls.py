from django.urls import include, path

from . import views

urlpatterns = [
    path("disaster/", views.home, name="disaster_home"),
    path("disaster/declare/", views.declare, name="disaster_declare"),
    path("disaster/<int:activation_id>/end/", views.end, name="disaster_end"),
    path("disaster/shelters/new/", views.shelter_edit, name="disaster_shelter_new"),
    path("disaster/shelters/<int:shelter_id>/", views.shelter_edit, name="disaster_shelter_edit"),
    path("disaster/shelters/<int:shelter_id>/open/", views.shelter_open, name="disaster_shelter_open"),
    path("platform/disasters/declare/", views.operator_declare, name="disaster_operator_declare"),
    path("", include("jichitai.disaster.support_urls")),  # 名簿・被災者台帳・罹災証明書
]

from . import views_evacuees as ev  # noqa: E402

urlpatterns += [
    path("disaster/evacuees/", ev.evacuee_list, name="disaster_evacuees"),
    path("disaster/evacuees/<int:evacuee_id>/", ev.evacuee_detail, name="disaster_evacuee"),
    path("disaster/evacuees/<int:evacuee_id>/move/", ev.evacuee_move, name="disaster_evacuee_move"),
    path("disaster/evacuees/<int:evacuee_id>/consent/", ev.evacuee_consent, name="disaster_evacuee_consent"),
    path("disaster/quick/", ev.quick_entry, name="disaster_quick"),
    path("disaster/import/", ev.csv_import, name="disaster_import"),
    path("disaster/review/", ev.review, name="disaster_review"),
    path("disaster/review/<int:evacuee_id>/", ev.review_decide, name="disaster_review_decide"),
    path("disaster/safety/", ev.safety_board, name="disaster_safety"),
    path("disaster/safety/unconfirmed/", ev.unconfirmed, name="disaster_unconfirmed"),
    path("disaster/safety/note/", ev.safety_note, name="disaster_safety_note"),
    path("disaster/grants/", ev.grants, name="disaster_grants"),
    path("disaster/grants/<int:grant_id>/revoke/", ev.grant_revoke, name="disaster_grant_revoke"),
    path("disaster/grants/<int:grant_id>/lookup/", ev.grant_lookup, name="disaster_grant_lookup"),
    path("disaster/pfif/export.xml", ev.pfif_export, name="disaster_pfif_export"),
    path("disaster/pfif/import/", ev.pfif_import, name="disaster_pfif_import"),
    path("disaster/dashboard/", ev.dashboard, name="disaster_dashboard"),
    path("disaster/inquiry/", ev.inquiry, name="disaster_inquiry"),
    path("disaster/duplicates/", ev.duplicates, name="disaster_duplicates"),
    path("disaster/<int:activation_id>/duplicates/", ev.duplicates, name="disaster_duplicates_of"),
    path("disaster/duplicates/merge/", ev.duplicates_merge, name="disaster_duplicates_merge"),
    path("disaster/evacuees/<int:evacuee_id>/unmerge/", ev.evacuee_unmerge, name="disaster_evacuee_unmerge"),
    path("disaster/evacuees/<int:evacuee_id>/not-duplicate/", ev.evacuee_not_duplicate,
         name="disaster_evacuee_not_duplicate"),
    path("platform/disasters/grants/", ev.operator_grants, name="disaster_operator_grants"),
]
