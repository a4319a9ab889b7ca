"""The offline kit (#13 item 3): built encrypted and signed for one municipality, opened on a laptop with no
network, work done offline (届出 received, certificates issued from a reserved number block) recorded in an outbox,
synced back by file: idempotent, conflicts queued for a person, the audit segment merged verifiably, and a sync
killed with SIGKILL resumes to the identical state. Runs on both engines (the platform side is the suite's engine;
the kit is always SQLite)."""
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import audit_events, client_for
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from jichitai.audit.verify import verify_chain
from jichitai.certificates.models import Issuance
from jichitai.continuity import offline
from jichitai.continuity.offline_models import OfflineIntake, OfflineKit, SyncConflict, SyncedEvent
from jichitai.tenancy.models import NumberSequence
from jichitai.tenancy.scope import tenant_scope

PASS = "correct horse battery staple"
ROOT = Path(__file__).resolve().parent.parent


def kit_shell(dest, code):
    r = subprocess.run([sys.executable, "-m", "jichitai.cli", "shell", "-c", code], env=offline.kit_env(dest),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


OFFLINE_WORK = """
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope
from jichitai.continuity import offline
from jichitai.residents.models import Person
from jichitai.certificates.actions import CertificateRequest, issue_certificate
m = Municipality.objects.get(code='44204')
u = StaffUser.objects.get(username='admin-a')
with tenant_scope(m):
    assert offline.offline_mode() and offline.device() == 'shelter-1'
    head = Person.objects.get(atena_no='{atena}')
    offline.queue_intake(u, kind='move_within', atena_no=head.atena_no, notifier='本人', memo='避難先から転居の届出')
    offline.queue_intake(u, kind='other', atena_no='', notifier='山田 花子（妻）', memo='罹災の相談')
    out = issue_certificate(u, CertificateRequest(person_ids=[head.pk], kind='resident_copy', layout='individual',
                            requester_kind='self', copies=1, options={{}}))
    print('ISSUED', out.issuance.issue_no, out.issuance.offline_device, len(out.pdf))
"""


@pytest.fixture
def kit(tmp_path, town_a, staff, munis, signed_certificates):
    if not Path("/usr/share/fonts/truetype/ipamj/ipamjm.ttf").exists():
        pytest.skip("fonts missing: make fonts")
    head, wife, child = town_a.family()
    a = munis[0]
    with tenant_scope(a):
        summary = offline.build_kit(staff["admin_a"], device="shelter-1", passphrase=PASS, out_path=tmp_path / "k.jck",
                                    label="三本松小学校", block_size=50)
    return {"summary": summary, "path": tmp_path / "k.jck", "head": head, "m": a, "tmp": tmp_path}


def test_every_table_has_a_kit_rule():
    plan = offline.copy_plan(1)
    labels = {p[0] for p in plan}
    assert {"residents.Person", "residents.Household", "residents.PersonHistory", "tenancy.StaffUser",
            "certificates.SigningKey", "gaiji.GaijiMapping"} <= labels
    assert "audit.AuditEvent" not in labels and "sessions.Session" not in labels


def test_build_reserves_a_block_and_makes_a_signed_encrypted_kit(kit, staff):
    s, a = kit["summary"], kit["m"]
    with tenant_scope(a):
        k = OfflineKit.objects.get()
        assert (k.block_start, k.block_end) == tuple(s["block"]) and k.block_end - k.block_start == 49
        assert NumberSequence.objects.get(name="certificate").last_value == k.block_end  # the platform skips it
        assert s["residents"] == 3 and k.segment_key.startswith("44204~")
    raw = kit["path"].read_bytes()
    assert "山田".encode() not in raw and b"SQLite format" not in raw   # encrypted
    [ev] = audit_events(a, action="offline.kit_build")
    assert json.loads(ev.detail)["block_end"] == k.block_end
    with tenant_scope(a), pytest.raises(ValidationError, match="すでに作成"):
        offline.reserve_kit(staff["admin_a"], device="shelter-1")
    with pytest.raises(offline.KitError, match="12文字以上"):
        offline.build_kit(staff["admin_a"], device="x", passphrase="short", out_path=kit["tmp"] / "x")


def test_a_wrong_passphrase_a_tampered_or_truncated_kit_is_refused(kit):
    path, tmp = kit["path"], kit["tmp"]
    with pytest.raises(offline.KitError, match="合言葉"):
        offline.open_kit(path, "not the passphrase", tmp / "d1")
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 1
    (tmp / "t.jck").write_bytes(bytes(raw))
    with pytest.raises(offline.KitError, match="改ざん"):
        offline.open_kit(tmp / "t.jck", PASS, tmp / "d2")
    (tmp / "short.jck").write_bytes(path.read_bytes()[:-100])
    with pytest.raises(offline.KitError, match="途中で切れ"):
        offline.open_kit(tmp / "short.jck", PASS, tmp / "d3")
    line, _, cipher = path.read_bytes().partition(b"\n")
    env = json.loads(line)
    env["header"]["device"] = "other"
    (tmp / "h.jck").write_bytes(json.dumps(env).encode() + b"\n" + cipher)
    with pytest.raises(offline.KitError, match="署名"):
        offline.open_kit(tmp / "h.jck", PASS, tmp / "d4")
    (tmp / "junk.jck").write_bytes(b"hello")
    with pytest.raises(offline.KitError, match="形式"):
        offline.open_kit(tmp / "junk.jck", PASS, tmp / "d5")


def test_offline_work_syncs_back_idempotently_with_the_audit_segment_merged(kit, staff):
    a, tmp, head = kit["m"], kit["tmp"], kit["head"]
    dest = tmp / "laptop"
    facts = offline.open_kit(kit["path"], PASS, dest)
    assert facts["device"] == "shelter-1"
    out = kit_shell(dest, OFFLINE_WORK.format(atena=head.atena_no))
    issued = out.split("ISSUED ", 1)[1].split()
    assert int(issued[0]) == kit["summary"]["block"][0] and issued[1] == "shelter-1"
    sync = tmp / "s1.jcsync"
    r = subprocess.run([sys.executable, "-m", "jichitai.cli", "offline", "export", "--dir", str(dest), "--out",
                        str(sync)], env={k: v for k, v in os.environ.items()}, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["events"] == 3
    with tenant_scope(a):
        before_intakes = OfflineIntake.objects.count()
        res = offline.sync_file(staff["admin_a"], sync)
        assert (res["applied"], res["queued"], res["conflict"]) == (1, 2, 0)
        iss = Issuance.objects.get(issue_no=issued[0])
        assert iss.offline_device == "shelter-1" and iss.person_ids == [head.pk]
        # the certificate issued offline verifies on the platform: its key is the platform's
        from jichitai.certificates import signing
        check = signing.check_code(signing.make_code(iss))
        assert check.is_valid and check.issuance == iss
        assert OfflineIntake.objects.count() == before_intakes + 2
        again = offline.sync_file(staff["admin_a"], sync)
        assert again["already"] == 3 and again["applied"] == again["queued"] == 0
        assert OfflineIntake.objects.count() == before_intakes + 2 and Issuance.objects.filter(
            issue_no=issued[0]).count() == 1
    assert len(audit_events(a, action="certificate.offline_record")) == 1
    # the issue itself is on the merged segment's chain, not a second time on the main chain
    assert not audit_events(a, action="certificate.issue", chain_key=a.code)
    assert len(audit_events(a, action="certificate.issue", chain_key=facts["segment"])) == 1
    merges = audit_events(a, action="audit.segment.merge")
    assert len(merges) == 1 and json.loads(merges[0].detail)["segment"] == facts["segment"]
    assert verify_chain(a.code).ok and verify_chain(facts["segment"]).ok
    assert client_for(staff["admin_a"]).get("/continuity/offline/").status_code == 200
    # the counter sees the 届出 received offline, and marks one done once entered
    clerk = client_for(staff["clerk_a"])
    page = clerk.get("/continuity/offline/intakes/").content.decode()
    assert "避難先から転居の届出" in page and "転居" in page
    with tenant_scope(a):
        first = OfflineIntake.objects.filter(kind="move_within").get()
    assert clerk.post(f"/continuity/offline/intakes/{first.pk}/done/", {"next": "intakes"}).status_code == 302
    with tenant_scope(a):
        first.refresh_from_db()
        assert first.status == "done" and first.done_by == "clerk-a"
        with pytest.raises(ValidationError, match="処理済み"):
            offline.finish_intake(staff["clerk_a"], first.pk)
    assert client_for(staff["viewer_a"]).get("/continuity/offline/intakes/").status_code == 403


def test_a_change_on_both_sides_goes_to_the_conflict_queue(kit, staff, town_a):
    from jichitai.residents import actions as ra

    a, tmp, head = kit["m"], kit["tmp"], kit["head"]
    dest = tmp / "laptop2"
    offline.open_kit(kit["path"], PASS, dest)
    kit_shell(dest, OFFLINE_WORK.format(atena=head.atena_no).split("    out = issue_certificate")[0])
    # meanwhile, on the platform, the same person is changed
    with tenant_scope(a):
        head.refresh_from_db()
        ra.correct_person(town_a.actor(), head, expected_version=head.version, changes={"given_name_kana": "タロー"},
                          change_date=dt.date.today(), note="誤記の訂正")
    subprocess.run([sys.executable, "-m", "jichitai.cli", "offline", "export", "--dir", str(dest), "--out",
                    str(tmp / "s2.jcsync")], check=True, capture_output=True)
    with tenant_scope(a):
        res = offline.sync_file(staff["admin_a"], tmp / "s2.jcsync")
        assert (res["queued"], res["conflict"]) == (1, 1)
        c = SyncConflict.objects.get()
        assert "両方で変更" in c.reason
        with pytest.raises(ValidationError, match="理由"):
            offline.decide_conflict(staff["admin_a"], c.pk, accept=True, note="")
        offline.decide_conflict(staff["admin_a"], c.pk, accept=True, note="窓口で本人に確認した")
        assert OfflineIntake.objects.filter(uuid=c.uuid).exists()
        with pytest.raises(ValidationError, match="すでに判断"):
            offline.decide_conflict(staff["admin_a"], c.pk, accept=False, note="x")


def test_a_sync_file_for_another_municipality_or_tampered_is_refused(kit, staff, munis):
    a, b = munis
    tmp = kit["tmp"]
    dest = tmp / "laptop3"
    offline.open_kit(kit["path"], PASS, dest)
    subprocess.run([sys.executable, "-m", "jichitai.cli", "offline", "export", "--dir", str(dest), "--out",
                    str(tmp / "s3.jcsync")], check=True, capture_output=True)
    with tenant_scope(b), pytest.raises(offline.KitError, match="44204"):
        offline.sync_file(staff["admin_b"], tmp / "s3.jcsync")
    raw = bytearray((tmp / "s3.jcsync").read_bytes())
    raw[-1] ^= 1
    (tmp / "bad.jcsync").write_bytes(bytes(raw))
    with tenant_scope(a), pytest.raises(offline.KitError):
        offline.sync_file(staff["admin_a"], tmp / "bad.jcsync")
    with tenant_scope(a):
        assert not SyncedEvent.objects.exists()


# ---------------------------------------------------------------------------------------------- revocation (lost laptop)

def _export(dest, out):
    r = subprocess.run([sys.executable, "-m", "jichitai.cli", "offline", "export", "--dir", str(dest), "--out",
                        str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_a_revoked_kit_is_refused_at_sync_and_its_unused_numbers_are_void(kit, staff, munis):
    from django.core.management import CommandError, call_command

    from jichitai.continuity import bcp_queries

    a, tmp, head = kit["m"], kit["tmp"], kit["head"]
    first, last = kit["summary"]["block"]
    dest = tmp / "lost-laptop"
    offline.open_kit(kit["path"], PASS, dest)
    out = kit_shell(dest, OFFLINE_WORK.format(atena=head.atena_no))  # 2 届出 and the certificate `first`
    assert out.split("ISSUED ", 1)[1].split()[0] == f"{first:08d}"
    _export(dest, tmp / "before.jcsync")
    with tenant_scope(a):
        offline.sync_file(staff["admin_a"], tmp / "before.jcsync")
        k = OfflineKit.objects.get()
    kit_shell(dest, OFFLINE_WORK.format(atena=head.atena_no).split("    out = issue_certificate")[0])
    _export(dest, tmp / "after.jcsync")  # made before the laptop was lost, never synced
    admin, viewer = client_for(staff["admin_a"]), client_for(staff["viewer_a"])
    url = f"/continuity/offline/kits/{k.pk}/revoke/"
    # the kits screen offers 失効 for the active kit; the confirmation says which numbers become void
    assert url in admin.get("/continuity/offline/").content.decode()
    page = admin.get(url).content.decode()
    assert "元に戻せません" in page and f"{first + 1}〜{last}" in page
    assert viewer.get(url).status_code == 403 and viewer.post(url, {"reason": "x"}).status_code == 403
    bad = admin.post(url, {"reason": "  "})
    assert bad.status_code == 400 and "理由" in bad.content.decode()
    with tenant_scope(a):
        assert OfflineKit.objects.get().revoked_at is None
    assert admin.post(url, {"reason": "避難所でノートPCを紛失"}).status_code == 302
    with tenant_scope(a):
        k = OfflineKit.objects.get()
        assert k.revoked_at and k.revoked_by == "admin-a" and k.revoke_reason == "避難所でノートPCを紛失"
        # the certificate synced before keeps its number; the rest of the block is void
        assert k.void_ranges == [[first + 1, last]] and k.void_count == last - first
        with pytest.raises(ValidationError, match="すでに失効"):
            offline.revoke_kit(staff["admin_a"], k.pk, reason="二度目")
    [ev] = audit_events(a, action="offline.kit_revoke")
    d = json.loads(ev.detail)
    assert d["void_ranges"] == [[first + 1, last]] and d["device"] == "shelter-1" and ev.object_id == str(k.pk)
    # its sync file is refused, in Japanese and English, on the screen and the command line; nothing is applied
    with tenant_scope(a):
        intakes = OfflineIntake.objects.count()
        with pytest.raises(offline.KitError, match="失効しています.*revoked"):
            offline.sync_file(staff["admin_a"], tmp / "after.jcsync")
    with pytest.raises(CommandError, match="失効しています.*revoked"):
        call_command("offline", "sync", "--municipality", a.code, str(tmp / "after.jcsync"))
    with open(tmp / "after.jcsync", "rb") as f:
        r = admin.post("/continuity/offline/", {"file": f})
    assert r.status_code == 400 and "失効しています" in r.content.decode()
    with tenant_scope(a):
        assert OfflineIntake.objects.count() == intakes and SyncedEvent.objects.count() == 3
    assert len(audit_events(a, action="offline.sync_refused")) == 3
    assert verify_chain(a.code).ok
    # the kits screen, the 交付簿 and the BCP plan show the kit as revoked, with its void numbers
    kits_page = admin.get("/continuity/offline/").content.decode()
    assert "失効" in kits_page and url not in kits_page and f"{first + 1}〜{last}" in kits_page
    log = client_for(staff["admin_a"]).get("/certificates/").content.decode()
    assert "欠番" in log and f"{first + 1}〜{last}" in log and "shelter-1" in log
    with tenant_scope(a):
        lines = bcp_queries.plan_facts()["offline_kit_lines"]
        assert lines == [f"shelter-1（三本松小学校）: 失効 {timezone.localtime(k.revoked_at):%Y-%m-%d}（避難所でノートPCを"
                         f"紛失）、欠番 {last - first} 件"]
    plan = admin.get("/continuity/bcp/").content.decode()
    assert "有効 0 件、失効 1 件" in plan and "shelter-1（三本松小学校）: 失効" in plan
    # another municipality cannot revoke A's kit, nor see it
    with tenant_scope(munis[1]), pytest.raises(ValidationError, match="見つかりません"):
        offline.revoke_kit(staff["admin_b"], k.pk, reason="他団体")
    assert client_for(staff["admin_b"]).get(url).status_code == 404


def test_a_kit_revoked_while_it_syncs_stops_at_the_next_batch(kit, staff, monkeypatch):
    from django.core.management import call_command

    a, tmp = kit["m"], kit["tmp"]
    dest = tmp / "laptop-r"
    offline.open_kit(kit["path"], PASS, dest)
    kit_shell(dest, OFFLINE_WORK.format(atena=kit["head"].atena_no).split("    out = issue_certificate")[0])
    _export(dest, tmp / "r.jcsync")
    with tenant_scope(a):
        k = OfflineKit.objects.get()
        # a reserved kit never synced: every reserved number is void; revoked from the command line
        spare = offline.reserve_kit(staff["admin_a"], device="spare-2", block_size=10)
    call_command("offline", "revoke", "--municipality", a.code, "--device", "spare-2", "--reason", "盗難（届出済み）")
    with tenant_scope(a):
        spare.refresh_from_db()
        assert spare.void_ranges == [[spare.block_start, spare.block_end]] and spare.void_count == 10
    monkeypatch.setenv("JICHITAI_OFFLINE_SYNC_BATCH", "1")
    calls = []

    def revoke_after_the_first_event():
        if not calls:
            calls.append(1)
            offline.revoke_kit(staff["admin_a"], k.pk, reason="同期中に紛失の連絡")
    monkeypatch.setattr(offline, "_sleep_hook", revoke_after_the_first_event)
    with tenant_scope(a):
        with pytest.raises(offline.RevokedKit):
            offline.sync_file(staff["admin_a"], tmp / "r.jcsync")
        assert SyncedEvent.objects.count() == 1 and OfflineIntake.objects.filter(kit=k).count() == 1
        assert not audit_events(a, action="offline.sync")
    assert len(audit_events(a, action="offline.sync_refused")) == 1


# ---------------------------------------------------------------------------------------------- kill -9 during sync

SETUP = """
import datetime as dt
from jichitai.tenancy.models import Prefecture, Municipality, StaffUser
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope
from jichitai.residents import actions
p = Prefecture.objects.create(code='44', name='大分県')
m = Municipality.objects.create(code='44204', name='日田市', prefecture=p)
u = StaffUser.objects.create_user(username='admin-a', password='x-long-password-1', role=Role.ADMIN, municipality=m)
with tenant_scope(m):
    actions.register_move_in(actions.Actor(intake=actions.IntakeInput.in_person(), user=u, terminal='t', municipality=m), values=dict(
        family_name='山田', given_name='太郎', family_name_kana='ヤマダ', given_name_kana='タロウ',
        birth_date=dt.date(1975, 4, 1), sex='1', address='三本松二丁目3番5号', previous_address='福岡県福岡市中央区天神一丁目1番1号'),
        change_date=dt.date(2020, 4, 1), notification_date=dt.date(2020, 4, 3))
"""
WORK = """
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope
from jichitai.continuity import offline
m = Municipality.objects.get(code='44204')
u = StaffUser.objects.get(username='admin-a')
with tenant_scope(m):
    for i in range(40):
        offline.queue_intake(u, kind='other', atena_no='', notifier=f'届出人{i}', memo=f'内容{i}')
"""
DIGEST = """
import json
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.scope import tenant_scope
from jichitai.continuity.offline_models import OfflineIntake, SyncedEvent
from jichitai.audit.models import AuditEvent
from jichitai.audit.verify import verify_chain
m = Municipality.objects.get(code='44204')
with tenant_scope(m):
    d = {'synced': sorted(SyncedEvent.objects.values_list('uuid', 'result')),
         'intakes': sorted(OfflineIntake.objects.values_list('uuid', 'notifier', 'memo', 'status')),
         'merges': AuditEvent.objects.filter(action='audit.segment.merge').count(),
         'syncs': AuditEvent.objects.filter(action='offline.sync').count(),
         'chain_ok': verify_chain('44204').ok}
print('DIGEST ' + json.dumps(d, ensure_ascii=False, sort_keys=True))
"""


def _scratch(tmp_path, name):
    """test_migration's scratch database, cloned with its whole var directory (the audit keys live there)."""
    import shutil

    from test_migration import Scratch

    class WithKeys(Scratch):
        def clone(self, other_name):
            if not self.pg:
                shutil.copytree(self.tmp / self.name, self.tmp / other_name, dirs_exist_ok=True)
                return WithKeys(self.tmp, other_name)
            other = super().clone(other_name)
            shutil.copytree(self.tmp / self.name, self.tmp / other_name, dirs_exist_ok=True)
            return WithKeys(self.tmp, other_name)

    return WithKeys(tmp_path, name)


def test_sigkill_during_sync_then_resume_gives_the_identical_state(tmp_path):
    from test_migration import JICHITAI

    base = _scratch(tmp_path, "base")
    clean = killed = None
    try:
        base.create(setup=False)
        base.sh("shell", "-c", SETUP)
        env = dict(base.env, JICHITAI_KIT_PASSPHRASE=PASS)
        subprocess.run([JICHITAI, "offline", "build", "--municipality", "44204", "--device", "d1", "--out",
                        str(tmp_path / "k.jck"), "--block", "20"], env=env, check=True, capture_output=True)
        subprocess.run([JICHITAI, "offline", "open", str(tmp_path / "k.jck"), "--dir", str(tmp_path / "laptop")],
                       env=env, check=True, capture_output=True)
        kit_shell(tmp_path / "laptop", WORK)
        sync = tmp_path / "s.jcsync"
        subprocess.run([JICHITAI, "offline", "export", "--dir", str(tmp_path / "laptop"), "--out", str(sync)],
                       env=base.env, check=True, capture_output=True)
        clean, killed = base.clone("clean"), base.clone("killed")
        clean.env["JICHITAI_OFFLINE_SYNC_BATCH"] = "4"
        clean.sh("offline", "sync", "--municipality", "44204", str(sync))
        want = json.loads(clean.sh("shell", "-c", DIGEST).stdout.split("DIGEST ", 1)[1])
        assert len(want["synced"]) == 40 and len(want["intakes"]) == 40 and want["merges"] == 1 and want["chain_ok"]
        rng = random.Random(os.getpid())
        kenv = dict(killed.env, JICHITAI_OFFLINE_SYNC_SLEEP="0.05", JICHITAI_OFFLINE_SYNC_BATCH="4")
        kills = attempts = 0
        while attempts < 8 and kills < 2:
            attempts += 1
            p = subprocess.Popen([JICHITAI, "offline", "sync", "--municipality", "44204", str(sync)], env=kenv,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.6, 1.6))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.communicate()
            if p.returncode == 0:
                break
        assert kills >= 1, f"no kill in {attempts} attempts"
        partial = json.loads(killed.sh("shell", "-c", DIGEST).stdout.split("DIGEST ", 1)[1])
        assert len(partial["synced"]) < 40 and len(partial["synced"]) == len(partial["intakes"])
        assert len(partial["synced"]) % 4 == 0   # whole batches only
        killed.sh("offline", "sync", "--municipality", "44204", str(sync))
        got = json.loads(killed.sh("shell", "-c", DIGEST).stdout.split("DIGEST ", 1)[1])
        assert got == want
    finally:
        for s in (base, clean, killed):
            if s is not None:
                s.drop()


SHELTER_WORK = """
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope
from jichitai.disaster import actions
m = Municipality.objects.get(code='44204')
u = StaffUser.objects.get(username='admin-a')
with tenant_scope(m):
    actions.register_evacuees(u, [{{"full_name": "山田太郎", "kana": "ヤマダタロウ", "birth_text": "S50.4.1",
                                   "sex": "男", "place": "S01"}}, {{"full_name": "訪問者花子", "place": "S01"}}])
    actions.add_safety_note(u, person_id={head}, status="believed_alive", text="避難所で本人を確認")
    [visitor] = [e for e in __import__("jichitai.disaster.models", fromlist=["Evacuee"]).Evacuee.objects.all()
                 if e.full_name == "訪問者花子"]
    actions.add_safety_note(u, evacuee_id=visitor.pk, status="believed_alive", text="避難所にいる")
"""


def test_evacuees_and_safety_notes_recorded_offline_reach_the_platform(tmp_path, town_a, staff, munis,
                                                                       signed_certificates):
    from django.utils import timezone

    from jichitai.disaster import actions as disaster_actions
    from jichitai.disaster.models import Evacuee, SafetyNote

    a = munis[0]
    head, _, _ = town_a.family()
    with tenant_scope(a):
        disaster_actions.declare_disaster(staff["admin_a"], name="令和8年豪雨", kind="flood",
                                          occurred_at=timezone.now())
        s = disaster_actions.save_shelter(staff["admin_a"], {"code": "S01", "name": "三本松小学校", "kind": "designated",
                                                            "address": "三本松二丁目1番", "capacity_day": 100,
                                                            "capacity_night": 80})
        disaster_actions.set_shelter_open(staff["admin_a"], s.pk, True)
        offline.build_kit(staff["admin_a"], device="shelter-2", passphrase=PASS, out_path=tmp_path / "k.jck")
    dest = tmp_path / "laptop"
    offline.open_kit(tmp_path / "k.jck", PASS, dest)
    kit_shell(dest, SHELTER_WORK.format(head=head.pk))
    subprocess.run([sys.executable, "-m", "jichitai.cli", "offline", "export", "--dir", str(dest), "--out",
                    str(tmp_path / "s.jcsync")], check=True, capture_output=True)
    with tenant_scope(a):
        assert not Evacuee.objects.exists()
        res = offline.sync_file(staff["admin_a"], tmp_path / "s.jcsync")
        assert (res["applied"], res["conflict"]) == (2, 1)
        evs = {e.full_name: e for e in Evacuee.objects.all()}
        assert evs["山田太郎"].person_id == head.pk and evs["山田太郎"].source.startswith("offline:")
        assert evs["訪問者花子"].person_id is None
        assert SafetyNote.objects.filter(person=head, text="避難所で本人を確認").count() == 1
        c = SyncConflict.objects.get()
        assert c.kind == "safety_note" and "訪問者花子" in c.reason
        again = offline.sync_file(staff["admin_a"], tmp_path / "s.jcsync")
        assert again["already"] == 3 and Evacuee.objects.count() == 2
