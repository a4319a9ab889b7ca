import sys

from django.core.management.base import BaseCommand, CommandError

from jichitai.api.actions import create_client, revoke_client
from jichitai.api.models import ApiClient
from jichitai.api.scopes import SCOPE_SETS, ScopeError
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import cross_tenant


class Command(BaseCommand):
    help = ("住民異動連携APIのクライアント（連携先システム）とAPIキーの管理。"
            " `jichitai api_client create --municipality CODE --system 国保 --scopes kokuho` はキーを1回だけ表示します。"
            " `list [--municipality CODE]`, `revoke PREFIX`, `scopes`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="sub", required=True)
        c = sub.add_parser("create", help="create a client and print its key once")
        c.add_argument("--municipality", required=True, help="5-digit code")
        c.add_argument("--system", required=True, help="subscribing system, e.g. 国保, 税, 福祉")
        c.add_argument("--scopes", required=True, help="comma-separated scope sets or field names, e.g. basic,kokuho")
        c.add_argument("--created-by", help="username of the municipal staff member who asked for it")
        ls = sub.add_parser("list", help="list clients (never their keys)")
        ls.add_argument("--municipality", help="5-digit code")
        r = sub.add_parser("revoke", help="revoke a client's key")
        r.add_argument("prefix", help="the key prefix shown by list (the 12 hex digits after jk_)")
        sub.add_parser("scopes", help="list the named scope sets")

    def _municipality(self, code):
        try:
            return Municipality.objects.get(code=code)
        except Municipality.DoesNotExist:
            raise CommandError(f"no municipality {code} / 自治体 {code} はありません") from None

    def handle(self, *args, sub=None, **o):
        if sub == "create":
            m = self._municipality(o["municipality"])
            by = None
            if o.get("created_by"):
                by = StaffUser.objects.filter(username=o["created_by"]).first()
                if by is None:
                    raise CommandError(f"no staff user {o['created_by']} / 職員 {o['created_by']} はいません")
            try:
                client, key = create_client(m, o["system"], o["scopes"], created_by=by)
            except (ScopeError, ValueError) as e:
                raise CommandError(str(e)) from None
            self.stdout.write(f"created {client.system_name} for {m.code} {m.name}: prefix {client.key_prefix}, "
                              f"scopes {','.join(client.scopes)}")
            self.stdout.write("API key (shown once; store it now / このキーは再表示できません):")
            self.stdout.write(key)
        elif sub == "list":
            with cross_tenant("api_client list: the platform's command lists every municipality's clients"):
                qs = ApiClient.all_tenants.select_related("municipality").order_by("municipality__code",
                                                                                   "created_at")
                if o.get("municipality"):
                    qs = qs.filter(municipality=self._municipality(o["municipality"]))
                clients = list(qs)
            for c in clients:
                state = "active" if c.is_active else f"revoked {c.revoked_at:%Y-%m-%d %H:%M}"
                used = f"{c.last_used_at:%Y-%m-%d %H:%M}" if c.last_used_at else "never"
                self.stdout.write(f"{c.municipality.code}\t{c.key_prefix}\t{c.system_name}\t{','.join(c.scopes)}\t"
                                  f"{state}\tlast used {used}")
            if not clients:
                self.stdout.write("no API clients / APIクライアントはありません")
        elif sub == "revoke":
            with cross_tenant("api_client revoke: a key is named by its prefix alone"):
                c = ApiClient.all_tenants.select_related("municipality").filter(
                    key_prefix=o["prefix"].removeprefix("jk_")).first()
            if c is None:
                raise CommandError(f"no client with prefix {o['prefix']} / 該当するクライアントはありません")
            revoke_client(c)
            self.stdout.write(f"revoked {c.key_prefix} ({c.system_name}, {c.municipality.code})")
        elif sub == "scopes":
            for n, (fields, desc) in SCOPE_SETS.items():
                self.stdout.write(f"{n}\t{desc}\t{','.join(fields)}")
            self.stdout.write("individual_number, resident_code, dv_address: by name only / 個別に指定した場合のみ")
        else:  # pragma: no cover
            sys.exit(2)
