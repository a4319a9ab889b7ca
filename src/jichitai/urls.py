from django.urls import include, path

urlpatterns = [
    path("", include("jichitai.web.urls")),
]

handler403 = "jichitai.web.views.permission_denied"
handler404 = "jichitai.web.views.not_found"
