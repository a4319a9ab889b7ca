"""Bearer-key authentication of API clients."""
from dataclasses import dataclass

from jichitai.tenancy.scope import cross_tenant

from .keys import matches, split_key
from .models import ApiClient


@dataclass
class ApiActor:
    """What the audit log records as the actor of an API call (no staff user: actor_id stays empty)."""

    username: str
    pk: None = None
    role: str = "api_client"


def actor_of(client: ApiClient) -> ApiActor:
    return ApiActor(username=f"api:{client.key_prefix}:{client.system_name}"[:150])


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request) -> tuple[ApiClient | None, str]:
    """(client, "") for a valid active key; (None, reason) otherwise: missing, invalid or revoked.
    `revoked` is returned with the client so that the refusal can be audited on its municipality's chain."""
    token = bearer_token(request)
    if token is None:
        return None, "missing"
    parts = split_key(token)
    if parts is None:
        return None, "invalid"
    prefix, secret = parts
    with cross_tenant("API key look-up by its prefix, before the municipality is known"):
        client = ApiClient.all_tenants.select_related("municipality").filter(key_prefix=prefix).first()
    if client is None or not matches(secret, client.key_hash):
        return None, "invalid"
    if not client.is_active or not client.municipality.is_active:
        return client, "revoked"
    return client, ""
