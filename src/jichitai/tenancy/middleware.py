from .scope import reset_request_tenant, set_request_tenant


class TenantMiddleware:
    """Sets the request's municipality from the signed-in user, and clears it afterwards.

    The operator (and anonymous visitors) get no municipality: any access to tenant data then raises.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        municipality = None
        if user is not None and user.is_authenticated and user.municipality_id:
            municipality = user.municipality
        request.municipality = municipality
        token = set_request_tenant(municipality)
        try:
            return self.get_response(request)
        finally:
            reset_request_tenant(token)
