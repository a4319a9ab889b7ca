from django.urls import include, path

from . import views

urlpatterns = [
    path("residents/<int:person_id>/certificate/", views.issue, name="certificate_issue"),
    path("certificates/", views.log, name="certificate_log"),
    path("certificates/<int:issuance_id>/", views.detail, name="certificate_detail"),
    path("certificates/<int:issuance_id>/void/", views.void, name="certificate_void"),
    path("certificates/<int:issuance_id>/reprint/", views.reprint, name="certificate_reprint"),
    path("", include("jichitai.certificates.settings_urls")),
    path("", include("jichitai.certificates.verify_urls")),
]
