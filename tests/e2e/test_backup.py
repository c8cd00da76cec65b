"""``temix db backup`` while the server serves, ``temix db restore`` into a fresh data folder:
every tender, transaction, position and credential is found again, and the restored copy is
consistent although requests were committing while the backup was taken."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import requests
from lxml import etree

from service.soap.ns import EI, q
from tests.support import messages as msg
from tests.support.server import running_server, temix_command, temix_env
from tests.support.soap import Reply, check_reply

START, WINDOW = "2030-01-01T00:00:00Z", "P1D"


def call(server, path, payload, password, *, digest=True) -> Reply:
    party = payload.findtext(q(EI, "partyID"))
    answer = requests.post(
        f"{server.base_url}{path}", data=msg.envelope(payload, msg.username_token(party, password, digest=digest)),
        headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30,
    )
    return check_reply(Reply(answer.status_code, answer.content))


def temix(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        temix_command(*args, "--data-dir", str(data_dir)), capture_output=True, text=True, env=temix_env(),
        cwd=data_dir, timeout=300,
    )


def reads(server, seller, buyer, passwords) -> dict[str, bytes]:
    """What the two parties read of their tenders, transactions and positions (same requestIDs:
    reads are not logged, so the replies compare byte for byte)."""
    asked = {
        "tenders": ("/EiTender", msg.request_tender("read-tenders", buyer)),
        "seller transactions": ("/EiTransaction", msg.request_transaction("read-transactions", seller)),
        "buyer transactions": ("/EiTransaction", msg.request_transaction("read-transactions", buyer)),
        "seller position": ("/EiTransaction", msg.request_position("read-position", seller, START, WINDOW, "PT1H")),
        "buyer position": ("/EiTransaction", msg.request_position("read-position", buyer, START, WINDOW, "PT1H")),
    }
    replies = {}
    for name, (path, payload) in asked.items():
        reply = call(server, path, payload, passwords[payload.findtext(q(EI, "partyID"))])
        assert reply.code == "200", (name, reply.body[:300])
        replies[name] = etree.tostring(reply.payload, method="c14n")
    return replies


def test_a_backup_taken_while_serving_restores_every_tender_transaction_position_and_credential():
    tag = uuid.uuid4().hex[:6]
    seller, buyer, bg_seller, bg_buyer = (f"{role}-{tag}" for role in ("seller", "buyer", "bg-seller", "bg-buyer"))
    passwords = {party: f"pw-{uuid.uuid4().hex}" for party in (seller, buyer, bg_seller, bg_buyer)}
    work = Path(tempfile.mkdtemp(prefix="temix-e2e-backup-"))  # not under pytest's 0700 basetemp
    backup_file, restored_dir = work / "temix.backup", work / "restored"
    restored_dir.mkdir()
    try:
        with running_server("--allow-insecure-password", prefix="temix-e2e-backup-source-") as source:
            for party, password in passwords.items():
                source.add_party(party, password)
            # the known data: six tenders, each hour of the day's first six; three taken
            hours = [f"2030-01-01T{hour:02d}:00:00Z" for hour in range(6)]
            tenders = [(f"t-{n}", msg.product(start=start)) for n, start in enumerate(hours)]
            assert call(source, "/EiTender", msg.create_tender("r-tenders", seller, buyer, *tenders), passwords[seller]).code == "200"
            taken = [(f"x-{n}", f"t-{n}", msg.product(side="buy", quantity=q_kw, start=hours[n], state="transaction"))
                     for n, q_kw in ((0, "10"), (1, "4"), (2, "2.5"))]
            assert call(source, "/EiTransaction", msg.create_transaction("r-take", buyer, seller, *taken), passwords[buyer]).code == "200"
            before = reads(source, seller, buyer, passwords)

            # another pair trades without a pause while the backup is taken
            stop, acknowledged = threading.Event(), []

            def trade() -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    tender = (f"bg-{n}", msg.product(start=hours[n % 6]))
                    created = call(source, "/EiTender", msg.create_tender(f"bg-t-{n}", bg_seller, bg_buyer, tender), passwords[bg_seller])
                    accept = (f"bg-x-{n}", f"bg-{n}", msg.product(side="buy", quantity="1", start=hours[n % 6], state="transaction"))
                    accepted = call(source, "/EiTransaction", msg.create_transaction(f"bg-x-{n}", bg_buyer, bg_seller, accept), passwords[bg_buyer])
                    assert (created.code, accepted.code) == ("200", "200")
                    acknowledged.append(n)

            trader = threading.Thread(target=trade)
            trader.start()
            try:
                while len(acknowledged) < 3:  # trading has begun
                    assert trader.is_alive()
                    stop.wait(0.05)
                acknowledged_before = len(acknowledged)
                done = temix(source.data_dir, "db", "backup", str(backup_file))
                during = len(acknowledged) - acknowledged_before
            finally:
                stop.set()
                trader.join()
            assert done.returncode == 0, done.stderr
            assert f"written to {backup_file}" in done.stdout and "secret.key" in done.stdout
            key = (source.data_dir / "secret.key").read_bytes()
            shutil.copy2(source.data_dir / "secret.key", restored_dir / "secret.key")  # as the README says
            assert temix(source.data_dir, "db", "backup", str(backup_file)).returncode == 1  # never overwritten

        restored = temix(restored_dir, "db", "restore", str(backup_file))
        assert restored.returncode == 0, restored.stderr
        assert "warning" not in restored.stderr  # the copied key opens the restored secrets
        for output in (done.stdout, done.stderr, restored.stdout, restored.stderr):
            assert key.hex() not in output  # nothing secret printed
            assert not any(password in output for password in passwords.values())
        checked = temix(restored_dir, "db", "check-positions")
        assert checked.returncode == 0 and "positions agree" in checked.stdout, checked.stdout

        with running_server("--allow-insecure-password", data_dir=restored_dir, register_ctx=False) as copy:
            # PasswordDigest: the restored sealed secrets open with the copied key
            assert reads(copy, seller, buyer, passwords) == before
            # PasswordText: the scrypt hashes came too
            text_read = call(copy, "/EiTender", msg.request_tender("read-text", seller), passwords[seller], digest=False)
            assert text_read.code == "200"
            # the other pair's trades: every one acknowledged before the backup began is there,
            # and none that had not begun when it ended
            bg_trades = call(copy, "/EiTransaction", msg.request_transaction("read-bg", bg_buyer), passwords[bg_buyer])
            found = {el.text for el in bg_trades.payload.iter(q(EI, "transactionID"))}
            assert {f"bg-x-{n}" for n in range(1, acknowledged_before + 1)} <= found
            assert len(found) <= acknowledged_before + during + 1

        refused = temix(restored_dir, "db", "restore", str(backup_file))
        assert refused.returncode == 1 and "not empty" in refused.stderr and "--force" in refused.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_restore_refuses_a_file_that_is_not_a_backup():
    data_dir = Path(tempfile.mkdtemp(prefix="temix-e2e-restore-"))
    try:
        (data_dir / "not-a-backup").write_text("hello\n")
        refused = temix(data_dir, "db", "restore", str(data_dir / "not-a-backup"))
        assert refused.returncode == 1 and "is not a backup" in refused.stderr
        assert not (data_dir / "pg").exists()  # refused before any database was started
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
