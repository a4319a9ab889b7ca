from django.urls import path

from . import settings_views as views

urlpatterns = [
    path("certificates/settings/", views.settings_list, name="certificate_settings"),
    path("certificates/settings/<str:key>/", views.setting_edit, name="certificate_setting_edit"),
    path("certificates/settings/<str:key>/clear/", views.setting_clear, name="certificate_setting_clear"),
    path("platform/certificate-settings/", views.platform_settings_list, name="platform_certificate_settings"),
    path("platform/certificate-settings/<str:key>/", views.platform_setting_edit,
         name="platform_certificate_setting_edit"),
    path("platform/certificate-settings/<str:key>/clear/", views.platform_setting_clear,
         name="platform_certificate_setting_clear"),
]
