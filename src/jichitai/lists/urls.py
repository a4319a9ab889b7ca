from django.urls import path

from . import views

urlpatterns = [
    path("lists/", views.index, name="lists_index"),
    path("lists/issuances/", views.issuances, name="lists_issuances"),
    path("lists/daily/", views.daily, name="lists_daily"),
    path("lists/movers/", views.movers, name="lists_movers"),
    path("lists/households/", views.households, name="lists_households"),
]
