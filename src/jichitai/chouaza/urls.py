from django.urls import path

from . import views

urlpatterns = [
    path("chouaza/", views.chouaza_list, name="chouaza_list"),
    path("chouaza/new/", views.chouaza_edit, name="chouaza_new"),
    path("chouaza/<int:chouaza_id>/", views.chouaza_edit, name="chouaza_edit"),
    path("chouaza/import/", views.chouaza_import, name="chouaza_import"),
]
