"""An offline kit carries an audit HMAC key of its own (verify-only in the platform's keyring), never the platform's
keyring; the sync merges the kit's audit segment only when it is written with that kit's key."""
from django.conf import settings
from test_offline_kit import PASS, kit  # noqa: F401 (the kit fixture)

from jichitai.audit import keys
from jichitai.continuity import offline
from jichitai.continuity.offline_models import OfflineKit
from jichitai.tenancy.scope import tenant_scope


def test_the_kit_holds_only_its_own_key_and_the_platform_keeps_writing_with_its_own(kit):  # noqa: F811
    from pathlib import Path

    platform = keys.parse_keyring(Path(settings.JICHITAI_AUDIT_KEY_FILE).read_text("utf-8"), "platform")
    dest = kit["tmp"] / "laptop"
    offline.open_kit(kit["path"], PASS, dest)
    with tenant_scope(kit["m"]):
        want = offline.kit_key_id(OfflineKit.objects.get())
    ring = keys.parse_keyring((dest / "keys" / "hmac.key").read_text("utf-8"), "kit")
    assert list(ring.keys) == [want]
    assert want in platform.keys and platform.current != want
    assert ring.keys[want] == platform.keys[want]
    assert not set(platform.keys) - {want} & set(ring.keys)


def test_a_segment_written_with_another_key_is_refused():
    import json

    import pytest

    k = type("K", (), {"municipality": type("M", (), {"code": "44204"})(), "pk": 7, "sync_key": "ab" * 32})()
    other = type("K", (), {"municipality": k.municipality, "pk": 7, "sync_key": "cd" * 32})()
    assert offline.kit_key_id(k) != offline.kit_key_id(other)
    for bad in ("k20261207000000abcd", offline.kit_key_id(other)):
        with pytest.raises(offline.KitError, match="このキットの鍵"):
            offline._check_segment_key(k, [json.dumps({"chain": "44204~ab", "seq": 1, "key_id": bad})])
    offline._check_segment_key(k, [json.dumps({"chain": "44204~ab", "seq": 1, "key_id": offline.kit_key_id(k)})])
