from django.urls import path

from jichitai.audit import views as audit_views
from jichitai.gaiji import views as gaiji_views
from jichitai.residents import views as resident_views
from jichitai.tenancy import account_views
from jichitai.tenancy import staff_views
from jichitai.tenancy import views as tenancy_views

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("fonts/<str:name>", views.font, name="font"),
    path("residents/", resident_views.search, name="search"),
    path("residents/new/<slug:kind>/", resident_views.new_person, name="new_person"),
    path("residents/<int:person_id>/", resident_views.person_detail, name="person_detail"),
    path("residents/<int:person_id>/change/<slug:kind>/", resident_views.person_change, name="person_change"),
    path("households/<int:household_id>/", resident_views.household_detail, name="household_detail"),
    path("households/<int:household_id>/change/<slug:kind>/", resident_views.household_change,
         name="household_change"),
    path("audit/", audit_views.audit_log, name="audit_log"),
    path("audit/<int:event_id>/", audit_views.audit_detail, name="audit_detail"),
    path("audit/terminals/", audit_views.terminals, name="audit_terminals"),
    path("gaiji/", gaiji_views.mapping_list, name="gaiji_list"),
    path("gaiji/new/", gaiji_views.mapping_create, name="gaiji_create"),
    path("gaiji/import/", gaiji_views.table_import, name="gaiji_import"),
    path("gaiji/<int:mapping_id>/", gaiji_views.mapping_review, name="gaiji_review"),
    path("gaiji/<int:mapping_id>/glyph.png", gaiji_views.mapping_glyph, name="gaiji_glyph"),
    path("platform/", tenancy_views.tenants, name="platform_tenants"),
    path("platform/new/", tenancy_views.tenant_create, name="platform_tenant_create"),
    # staff identity: own account, the sign-in's second step, 職員管理, the operator's first admin
    path("login/mfa/", account_views.mfa_verify, name="mfa_verify"),
    path("account/password/", account_views.password_change, name="password_change"),
    path("account/mfa/", account_views.mfa_setup, name="mfa_setup"),
    path("staff/", staff_views.staff_list, name="staff_list"),
    path("staff/new/", staff_views.staff_create, name="staff_create"),
    path("staff/settings/", staff_views.staff_mfa_policy, name="staff_mfa_policy"),
    path("staff/<int:staff_id>/", staff_views.staff_edit, name="staff_edit"),
    path("staff/<int:staff_id>/unlock/", staff_views.staff_unlock, name="staff_unlock"),
    path("staff/<int:staff_id>/reset-password/", staff_views.staff_reset_password, name="staff_reset_password"),
    path("staff/<int:staff_id>/reset-mfa/", staff_views.staff_reset_mfa, name="staff_reset_mfa"),
    path("staff/<int:staff_id>/disable/", staff_views.staff_disable, name="staff_disable"),
    path("staff/<int:staff_id>/enable/", staff_views.staff_enable, name="staff_enable"),
    path("platform/<str:code>/first-admin/", staff_views.platform_first_admin, name="platform_first_admin"),
]
