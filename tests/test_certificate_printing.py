"""Certificates (issue 10, item 8, printing part): the 照合コード is printed under the QR, and a 世帯連記式 copy's
認証文 says whether it covers the whole household or listed members."""
import pytest
from test_certificates import issue, squash, text

from jichitai.certificates import signing
from jichitai.certificates.models import Issuance, Layout
from jichitai.common.fonts import font_path

pytestmark = [pytest.mark.skipif(font_path("ipamjm.ttf") is None or font_path("ipaexm.ttf") is None,
                                reason="IPAmj明朝 / IPAex明朝 not installed (make fonts)"),
              pytest.mark.usefixtures("signed_certificates")]  # issuing needs the mayor's name and seal


def test_the_verification_code_is_printed_under_the_qr(env):
    out = issue(env, [env.fresh(env.head)])
    code = signing.make_code(Issuance.objects.get(pk=out.issuance.pk))
    assert squash("照合コード" + code) in squash(text(out.pdf))
    assert signing.verify_url(code).endswith(code)  # the same code the QR carries and /verify/ asks for


def test_household_copy_says_whole_household(env):
    s = squash(text(issue(env, [env.fresh(env.head), env.fresh(env.wife), env.fresh(env.child)],
                          layout=Layout.HOUSEHOLD).pdf))
    assert "この写しは、世帯全員（3人）を記載したものである。" in s


def test_household_copy_says_listed_members(env):
    s = squash(text(issue(env, [env.fresh(env.head), env.fresh(env.child)], layout=Layout.HOUSEHOLD).pdf))
    assert "この写しは、世帯員3人のうち2人を記載したものである。" in s and "世帯全員" not in s


def test_individual_copy_has_no_household_statement(env):
    s = squash(text(issue(env, [env.fresh(env.wife)]).pdf))
    assert "世帯全員" not in s and "のうち" not in s
