"""Decide before relaying, record before acknowledging, know what was relayed (docs/smtp.md#what-a-250-means):
a full disk answers 451 before anything goes upstream and nothing is delivered twice across the client's
retries; a gateway killed while the upstream has a message leaves a decision with outcome "unknown";
a retry of a message already relayed (same Message-ID) is acknowledged without a second delivery."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Sequence
from contextlib import contextmanager

import pytest
from servers import GatewayProcess, RawClient, wait_until
from test_mail_engine import FlakyRelay, _engine
from test_smtp import ENV, PASSWORD, SAMPLE, Setup

from gateway.mail.engine import Client

RECEIPT = SAMPLE.replace(b"Advertisement: ", b"Your order: ")  # from acme-tx: transactional
TX = ("acme-tx", PASSWORD)


def numbered(n: int) -> bytes:
    return RECEIPT.replace(b"<spring-2026@", b"<order-%d@" % n)


@contextmanager
def small_disk(path, megabytes: int = 4):
    """A filesystem of its own, `megabytes` big, that the test can fill (tmpfs: CI runs as root)."""
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)]
    if os.geteuid() != 0:
        mount = ["sudo", "-n", *mount]
    done = subprocess.run(mount, capture_output=True, text=True)
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a small tmpfs for the full-disk tests: {done.stderr}")
        pytest.skip(f"needs root (or sudo) to mount a small tmpfs: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(
            ["umount", "-l", str(path)] if os.geteuid() == 0 else ["sudo", "-n", "umount", "-l", str(path)]
        )


def fill(disk, leave_kb: int) -> None:
    """The disk full but for `leave_kb`."""
    free = os.statvfs(disk)
    room = free.f_bavail * free.f_frsize - leave_kb * 1024
    with open(disk / "filler", "ab") as f:
        f.write(b"\0" * max(room, 0))


def on_small_disk(tmp_path, disk, extra: str = "") -> Setup:
    setup = Setup.__new__(Setup)
    Setup.__init__(setup, tmp_path, smtp_extra=extra)
    setup.gateway.stop()  # started with the defaults: again with its store and state on the small disk
    text = setup.config.read_text()
    text = text.replace(
        f'database = "sqlite:///{tmp_path}/gateway.db"', f'database = "sqlite:///{disk}/gateway.db"'
    )
    text = text.replace(f'state_dir = "{tmp_path}/state"', f'state_dir = "{disk}/state"')
    setup.config.write_text(text)
    setup.gateway = GatewayProcess(setup.config, setup.port, tmp_path, ENV)
    return setup


def test_a_disk_under_its_reserve_is_451_before_anything_is_relayed_and_retries_deliver_once(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        gw = on_small_disk(tmp_path, disk, "")
        try:
            gw.config.write_text(
                gw.config.read_text().replace("[gateway]", "[gateway]\ndisk_reserve_mb = 1", 1)
            )
            gw.gateway.stop()
            gw.gateway = GatewayProcess(gw.config, gw.port, tmp_path, ENV)
            client = RawClient(gw.port, login=TX)
            assert client.message(b"orders@news.demo.example", numbered(0))[0] == 250
            fill(disk, leave_kb=512)
            wait_until_reserve_seen()
            for attempt in range(3):  # the client's retries, while the disk stays full
                for n in range(1, 5):
                    code, text = client.message(b"orders@news.demo.example", numbered(n))
                    assert (code, text) == (451, b"4.3.1 Gateway storage low, try again later"), text
            assert len(gw.sink.messages()) == 1  # none of the refused ones reached the upstream
            (disk / "filler").unlink()
            wait_until_reserve_seen()
            for attempt in range(2):  # retried once more each, after the 250: still one copy each
                for n in range(1, 5):
                    assert client.message(b"orders@news.demo.example", numbered(n))[0] == 250
            client.close()
            assert len(gw.sink.messages()) == 5
            relayed = [d for d in gw_decisions(gw, disk) if d.verdict.value == "relayed"]
            assert len(relayed) == 5
        finally:
            gw.close()


def test_a_full_disk_without_a_reserve_still_refuses_before_relaying(tmp_path):
    """With the reserve off, the intent is what cannot be written: 451, nothing relayed; then recovery."""
    with small_disk(tmp_path / "disk") as disk:
        gw = on_small_disk(tmp_path, disk)
        try:
            gw.config.write_text(
                gw.config.read_text().replace("[gateway]", "[gateway]\ndisk_reserve_mb = 0", 1)
            )
            gw.gateway.stop()
            gw.gateway = GatewayProcess(gw.config, gw.port, tmp_path, ENV)
            client = RawClient(gw.port, login=TX)
            fill(disk, leave_kb=0)
            for n in range(3):
                code, text = client.message(b"orders@news.demo.example", numbered(n))
                assert code == 451 and text.startswith(b"4.3.1"), text
            assert gw.sink.messages() == []
            (disk / "filler").unlink()
            for n in range(3):
                assert client.message(b"orders@news.demo.example", numbered(n))[0] == 250
            client.close()
            assert len(gw.sink.messages()) == 3
            assert "Traceback" not in gw.gateway.output()
        finally:
            gw.close()


def wait_until_reserve_seen() -> None:
    import time

    time.sleep(1.1)  # the reserve is looked at once a second


def gw_decisions(gw: Setup, disk):
    from gateway.store.sqlite import SqliteStore

    async def read():
        store = SqliteStore(str(disk / "gateway.db"))
        try:
            return await store.decisions(1000)
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_gateway_killed_while_the_upstream_has_the_message_leaves_an_unknown_decision(tmp_path):
    gw = Setup(tmp_path, sink_args=("--delay", "2"))
    try:
        client = RawClient(gw.port, login=TX)
        assert client.command(b"MAIL FROM:<orders@news.demo.example>")[0] == 250
        assert client.command(b"RCPT TO:<pending@example.com>")[0] == 250
        assert client.command(b"DATA")[0] == 354
        client.sock.sendall(numbered(7).replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        wait_until(lambda: [d.verdict.value for d in gw.decisions()] == ["relaying"], timeout=5)  # the intent
        gw.gateway.proc.send_signal(signal.SIGKILL)
        gw.gateway.proc.wait()
        assert client.reply() == (0, b"")  # the client never heard 250: it will send it again
        # whether the upstream kept it (this sink drops a message whose client went away) is what is unknown
        gw.gateway = GatewayProcess(gw.config, gw.port, tmp_path, ENV)  # settles the intent at start
        (decision,) = gw.decisions(1)
        assert (decision.recipient, decision.verdict.value) == ("pending@example.com", "unknown")
        assert decision.message_id == "order-7@news.demo.example"
        assert "outcome unknown" in decision.upstream
    finally:
        gw.close()


def test_a_retry_of_a_relayed_message_is_acknowledged_without_a_second_delivery(tmp_path):
    gw = Setup(tmp_path)
    try:
        client = RawClient(gw.port, login=TX)
        first = numbered(1)
        assert client.message(b"orders@news.demo.example", first)[0] == 250
        assert client.message(b"orders@news.demo.example", first) == (
            250,
            b"2.0.0 Already relayed (a retry of the same message): not sent again",
        )
        # the same message to the one it went to and to another: only the other gets it
        code, _ = client.message(
            b"orders@news.demo.example", first, (b"reader@example.com", b"new@example.com")
        )
        assert code == 250
        # no Message-ID: nothing tells a retry from a new message, so it goes each time
        bare = b"\r\n".join(line for line in RECEIPT.split(b"\r\n") if not line.startswith(b"Message-ID:"))
        assert client.message(b"orders@news.demo.example", bare)[0] == 250
        assert client.message(b"orders@news.demo.example", bare)[0] == 250
        client.close()
        delivered = [envelope["rcpt_tos"] for envelope, _ in gw.sink.messages()]
        assert delivered == [
            ["reader@example.com"],
            ["new@example.com"],
            ["reader@example.com"],
            ["reader@example.com"],
        ]
        relayed = [d for d in gw.decisions(4) if d.verdict.value == "relayed"]
        assert len(relayed) == 4  # one per delivery, none for the retries
    finally:
        gw.close()


def test_the_retry_window_can_be_turned_off(tmp_path):
    gw = Setup(tmp_path, smtp_extra="retry_window_hours = 0")
    try:
        client = RawClient(gw.port, login=TX)
        for _ in range(2):
            assert client.message(b"orders@news.demo.example", numbered(1))[0] == 250
        client.close()
        assert len(gw.sink.messages()) == 2
    finally:
        gw.close()


class BrokenLog:
    """A decision log that cannot write (store down and journal on a full disk) until told otherwise."""

    def __init__(self, real) -> None:
        self.real, self.broken, self.attempts = real, True, 0

    async def record(self, decisions: Sequence, *args, **kwargs) -> None:
        if not kwargs.get("replace"):  # the intents go in; the outcomes do not
            await self.real.record(decisions, *args, **kwargs)
            return
        self.attempts += 1
        if self.broken:
            raise OSError(28, "No space left on device")
        await self.real.record(decisions, *args, **kwargs)

    def record_soon(self, decisions) -> None:
        self.real.record_soon(decisions)

    async def flush(self) -> None:
        await self.real.flush()


def test_relayed_mail_whose_decision_cannot_be_written_yet_is_250_not_a_retry_and_is_written_later(
    tmp_path, monkeypatch
):
    """451 would make the client send again what the upstream already has: 250, and the decision later."""
    monkeypatch.setattr("gateway.mail.sending._RETRY_SECONDS", 0.2)

    async def go():
        relay = FlakyRelay()
        engine, store, decisions = _engine(tmp_path, relay)
        broken = BrokenLog(decisions)
        engine.sending.decisions = broken
        _, tx = engine.mail(Client(sender="demo", authenticated=True), "orders@news.demo.example", [])
        assert (await engine.recipient(tx, "a@example.com", [])).code == 250
        answer = await engine.message(tx, SAMPLE)
        await asyncio.sleep(0.5)
        unwritten = [d.verdict.value async for d in store.iter_decisions()]
        broken.broken = False
        await asyncio.sleep(0.5)
        await decisions.flush()
        written = await store.decisions(10)
        await store.close()
        return answer, relay.delivered, unwritten, written, broken.attempts

    answer, delivered, unwritten, written, attempts = asyncio.run(go())
    assert answer.code == 250 and delivered == [["a@example.com"]]
    assert unwritten == ["relaying"] and attempts >= 2  # the intent stands for it meanwhile
    assert [(d.recipient, d.verdict.value) for d in written] == [("a@example.com", "relayed")]


def _intent(did: str, at, verdict="relaying"):
    from gateway.model import Category, Channel, Decision, Verdict

    return Decision(
        did, at, Channel.EMAIL, "acme-tx", f"{did}@example.com", Category.TRANSACTIONAL, Verdict(verdict)
    )


def test_a_journaled_intent_never_takes_an_outcome_back_and_stale_intents_read_unknown(tmp_path):
    import json
    from datetime import UTC, datetime, timedelta

    from gateway.decisions import DecisionLog
    from gateway.store.base import decision_row
    from gateway.store.sqlite import SqliteStore

    async def go():
        store = SqliteStore(str(tmp_path / "g.db"))
        now = datetime.now(UTC)
        await store.record_decisions([_intent("a", now, "relayed")])  # its outcome made it to the store
        journal = tmp_path / "decisions-1.journal"
        rows = [
            _intent("a", now),  # ... its intent only to the journal
            _intent("b", now),  # intent, then outcome, both journaled
            _intent("b", now, "relayed"),
            _intent("c", now - timedelta(minutes=10)),  # an intent alone, old
            _intent("d", now),  # an intent alone, fresh: a relay that may still be live elsewhere
        ]
        journal.write_text("".join(json.dumps(decision_row(d, "")) + "\n" for d in rows))
        await DecisionLog(store, journal).replay_journal()
        settled = await store.settle_intents(now - timedelta(minutes=5), "outcome unknown")
        found = {d.id: d.verdict.value for d in await store.decisions(10)}
        await store.close()
        return settled, found

    settled, found = asyncio.run(go())
    assert found == {"a": "relayed", "b": "relayed", "c": "unknown", "d": "relaying"} and settled == 1


def test_the_chaos_script_runs_and_its_books_balance(tmp_path):
    """bench/chaos.py, briefly (the note of issue 19 has its full run): kill -9 under load, nothing lost."""
    import sys

    from helpers import REPO

    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "chaos.py"),
            "--cycles",
            "3",
            "--seconds",
            "1",
            "--clients",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = (line.rsplit(None, 1) for line in done.stdout.splitlines()[2:] if line.strip())
    table = {key.strip(): value for key, value in rows}
    assert int(table["kill -9 cycles"]) == 3 and int(table["messages acknowledged (250)"]) > 0
    assert int(table["acknowledged, lost"]) == 0 and int(table["relayed without a decision"]) == 0
    assert int(table["of them not in flight (must be 0)"]) == 0
