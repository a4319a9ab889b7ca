"""On an offline kit, evacuee changes the outbox does not carry (consent, check-in/out and moves) are refused with a
clear message instead of being lost at sync."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from jichitai.disaster import actions
from jichitai.disaster.models import Evacuee
from jichitai.tenancy.scope import tenant_scope


def test_consent_and_moves_are_refused_on_an_offline_kit(town_a, staff, settings, tmp_path):
    u = staff["disaster_a"]
    with tenant_scope(town_a.m):
        actions.declare_disaster(u, name="豪雨", kind="flood", occurred_at=timezone.now() - dt.timedelta(hours=1))
        s = actions.save_shelter(u, {"code": "S01", "name": "体育館", "kind": "designated", "address": "三本松二丁目1番1号",
                                     "capacity_day": 10, "capacity_night": 10})
        actions.set_shelter_open(u, s.pk, True)
        actions.register_evacuees(u, [{"full_name": "避難　一郎", "kana": "ヒナンイチロウ", "birth_text": "S50.4.1",
                                       "sex": "男", "address": "", "place": "S01"}])
        e = Evacuee.objects.get()
        before = (e.consent_family, e.consent_public, e.shelter_id)
        settings.JICHITAI_OFFLINE_DIR = str(tmp_path)
        with pytest.raises(ValidationError, match="オフラインキットでは行えません"):
            actions.set_consent(u, e.pk, family=True, acquaintance=True, public=True)
        with pytest.raises(ValidationError, match="オフラインキットでは行えません"):
            actions.move_evacuee(u, e.pk, "check_out")
        e.refresh_from_db()
        assert (e.consent_family, e.consent_public, e.shelter_id) == before
        settings.JICHITAI_OFFLINE_DIR = ""
        actions.set_consent(u, e.pk, family=True, acquaintance=False, public=False)  # online: allowed
        e.refresh_from_db()
        assert e.consent_family is True
