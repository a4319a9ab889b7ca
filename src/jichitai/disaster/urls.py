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
