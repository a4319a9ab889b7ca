"""Licences in virtualised environments: each licence's basis counted on the deployment as it is, and the warning
before a change that would breach one.

Resources: physical hosts = the hosts virtual machines may run on (setting JICHITAI_PHYSICAL_HOSTS, a list; default
this machine's name — a VM moved between hosts needs a licence on both, as the seed's p.9 notes), vCPUs =
os.cpu_count() of this machine times the number of application hosts (JICHITAI_APP_HOSTS, default 1), users =
active staff accounts, tenants = municipalities in use."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from django.conf import settings

from .models import Licence, LicenceBasis

CHANGE_LABELS = {"user": "職員の追加", "tenant": "団体の追加", "vcpu": "vCPUの追加", "physical_host": "物理サーバの追加"}
BASIS_FOR_CHANGE = {"user": LicenceBasis.USER, "tenant": LicenceBasis.TENANT, "vcpu": LicenceBasis.VCPU,
                    "physical_host": LicenceBasis.PHYSICAL_HOST}


def resources() -> dict:
    from jichitai.tenancy.models import Municipality, StaffUser

    hosts = list(getattr(settings, "JICHITAI_PHYSICAL_HOSTS", None) or [socket.gethostname()])
    app_hosts = int(getattr(settings, "JICHITAI_APP_HOSTS", 1) or 1)
    return {"physical_host": len(hosts), "vcpu": (os.cpu_count() or 1) * app_hosts,
            "user": StaffUser.objects.filter(is_active=True).count(),
            "tenant": Municipality.objects.filter(is_active=True).count(), "hosts": hosts}


@dataclass
class Check:
    licence: Licence
    used: int

    @property
    def ok(self) -> bool:
        return self.used <= self.licence.entitlement

    @property
    def headroom(self) -> int:
        return self.licence.entitlement - self.used


def check_all(res=None) -> list[Check]:
    res = res or resources()
    return [Check(lic, res[lic.basis]) for lic in Licence.objects.all()]


def warnings_for(change: str, delta: int = 1) -> list[str]:
    """Japanese warnings for a change about to be made (adding a staff user, a tenant, …) that would exceed a
    licence's entitlement. Empty when nothing would be breached."""
    basis = BASIS_FOR_CHANGE[change]
    res = resources()
    out = []
    for lic in Licence.objects.filter(basis=basis):
        after = res[basis] + delta
        if after > lic.entitlement:
            out.append(f"ライセンス超過の警告: {CHANGE_LABELS[change]}により「{lic.product}」（{lic.get_basis_display()}、"
                       f"許諾 {lic.entitlement:,}）が {after:,} になり、許諾数を超えます。契約を確認してください。")
    return out
