"""Creating and revoking API clients (each audited on the municipality's chain)."""
from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import append
from jichitai.tenancy.scope import in_scope_of_first_argument, tenant_scope

from .keys import new_key
from .models import ApiClient
from .scopes import parse_scopes


@in_scope_of_first_argument
@transaction.atomic
def create_client(municipality, system_name: str, scopes, *, created_by=None) -> tuple[ApiClient, str]:
    """Returns the client and its full key. The key is shown once: only its prefix and hash are kept."""
    system_name = (system_name or "").strip()
    if not system_name:
        raise ValueError("system name is required / 連携先システム名を指定してください")
    if created_by is not None and created_by.municipality_id not in (None, municipality.pk):
        raise ValueError("staff of another municipality / 他の自治体の職員です")
    key, prefix, digest = new_key()
    client = ApiClient.objects.create(municipality=municipality, system_name=system_name[:40], key_prefix=prefix,
                                      key_hash=digest, scopes=parse_scopes(scopes), created_by=created_by)
    append(municipality, "api.client.create", actor=created_by, terminal="command", object_type="api_client",
           object_id=client.pk, detail={"client": prefix, "system": client.system_name, "scopes": client.scopes})
    return client, key


def revoke_client(client: ApiClient, *, by=None) -> ApiClient:
    with tenant_scope(client.municipality):
        return _revoke_client(client, by=by)


@transaction.atomic
def _revoke_client(client: ApiClient, *, by=None) -> ApiClient:
    if client.is_active:
        client.is_active = False
        client.revoked_at = timezone.now()
        client.save(update_fields=["is_active", "revoked_at"])
        append(client.municipality, "api.client.revoke", actor=by, terminal="command", object_type="api_client",
               object_id=client.pk, detail={"client": client.key_prefix, "system": client.system_name})
    return client
