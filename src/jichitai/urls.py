from django.urls import include, path

urlpatterns = [
    path("", include("jichitai.web.urls")),
]
