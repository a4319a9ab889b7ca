"""The public verification page (no sign-in, no tenant): the form, and the result for one code."""
from django.urls import path

from . import verify_views

urlpatterns = [
    path("verify/", verify_views.verify_form, name="certificate_verify_form"),
    path("verify/<path:code>", verify_views.verify, name="certificate_verify"),
]
