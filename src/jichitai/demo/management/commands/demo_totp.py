"""jichitai demo_totp — print the current 6-digit code of the demo admins' and operator's authenticator.

Only the demo's well-known secret (jichitai.demo.seed.DEMO_TOTP_SECRET) is used: a real account's secret is never
readable this way. Writes nothing."""
import time
from base64 import b32decode

from django.core.management.base import BaseCommand
from django_otp.oath import TOTP

from jichitai.demo.seed import DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = "デモ用ログイン（管理者・運用者）の2段階認証の確認コードを表示します（デモ専用のキーのみ）。"

    def handle(self, *args, **options):
        totp = TOTP(b32decode(DEMO_TOTP_SECRET))
        left = 30 - int(time.time()) % 30
        self.stdout.write(f"{totp.token():06d}  （あと {left} 秒有効 / valid for {left} s）")
