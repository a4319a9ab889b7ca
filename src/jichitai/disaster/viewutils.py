"""View helpers of the disaster app."""
import functools

from django.http import Http404


def object_or_404(exists):
    """404 when the object named by the URL is not the municipality's — before the method check, so another
    municipality's id answers 404 to GET and POST alike (tests/test_isolation.py). `exists(**url_kwargs)` runs a
    scoped query."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not exists(**kwargs):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
