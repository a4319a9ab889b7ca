from django.urls import include, path

urlpatterns = [
    path("", include("jichitai.certificates.settings_urls")),
    path("", include("jichitai.certificates.verify_urls")),
]
