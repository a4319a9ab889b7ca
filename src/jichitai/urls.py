from django.urls import include, path

urlpatterns = [
    path("", include("jichitai.web.urls")),
    path("", include("jichitai.interchange.urls")),
    path("", include("jichitai.migration.urls")),
    path("", include("jichitai.api.urls")),
    path("", include("jichitai.certificates.urls")),
    path("", include("jichitai.privacy.urls")),
    path("", include("jichitai.disaster.urls")),
    path("", include("jichitai.continuity.bcp_urls")),
    path("", include("jichitai.continuity.offline_urls")),
    path("", include("jichitai.chouaza.urls")),
    path("", include("jichitai.lists.urls")),
    path("", include("jichitai.residents.urls")),  # 届出の受付・決裁待ち
    path("", include("jichitai.continuity.urls")),
    path("", include("jichitai.platform.urls")),
]

handler403 = "jichitai.web.views.permission_denied"
handler404 = "jichitai.web.views.not_found"
