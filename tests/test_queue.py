"""The mail queue (`smtp.queue = true`, gateway/mail/queue.py and spool.py): 250 once a message is on the
disk, then relayed without the client; deferred and tried again, refused for good and reported to the
sender, and taken over after a crash. The spool's records on their own; the whole gateway on real
sockets against the test sink, stopped, killed and started again."""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import smtplib
import struct
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servers import GatewayProcess, Sink, wait_until
from test_smtp import ENV, SAMPLE, Setup

from gateway.config import ConfigError
from gateway.config import load as load_config
from gateway.mail.queue import MailQueue, entry_for
from gateway.mail.spool import Spool
from gateway.mail.spool_records import MAGIC, Entry, read_segment
from gateway.mail.upstream import Reply, UpstreamUnavailable
from gateway.model import Category, Channel, Decision, Verdict

QUEUED = "queue = true\nqueue_retry_seconds = 1"


# -- the spool -------------------------------------------------------------------------------------------


def _entry(n: int) -> Entry:
    return Entry(
        f"e{n}", "news@example.com", [(f"r{n}@example.com", ())], (), [], time.time(), "news@example.com"
    )


def _die(spool: Spool) -> None:
    """As a process that is killed: its descriptors closed (its locks with them), nothing tidied."""
    spare = [spool._spare.result()] if spool._spare is not None and spool._spare.done() else []
    for segment in [*spool._segments.values(), *spare]:
        os.close(segment.fd)
    spool._segments.clear()


def test_entries_are_read_back_and_a_dead_processes_entries_are_adopted_but_not_those_done(tmp_path):
    async def main():
        first = Spool(tmp_path, segment_bytes=64 * 1024)
        entries = [(_entry(n), f"message {n}".encode() * 500) for n in range(20)]  # several segments
        await first.put(entries)
        assert all(first.read(e.place) == data for e, data in entries)
        for entry, _ in entries[:5]:
            first.settle(entry, [0], [], done=True)
        if first._spare is not None:
            await first._spare
        second = Spool(tmp_path, segment_bytes=64 * 1024)
        assert list(second.adopt()) == []  # the first process lives: its segments are its own
        _die(first)
        adopted = [(e, d) for orphan in second.adopt() for e, d, _ in orphan.pending]
        assert sorted(e.id for e, _ in adopted) == sorted(f"e{n}" for n in range(5, 20))
        assert all(data == f"message {e.id[1:]}".encode() * 500 for e, data in adopted)
        assert not list(tmp_path.glob("*.seg"))  # adopted segments are gone once read
        await second.close()

    asyncio.run(main())


def test_a_torn_last_record_ends_the_segment_and_the_entries_before_it_stay(tmp_path):
    async def main():
        spool = Spool(tmp_path, segment_bytes=64 * 1024)
        await spool.put([(_entry(1), b"one"), (_entry(2), b"two")])
        segment = next(iter(spool._segments.values()))
        end = segment.end
        _die(spool)
        torn = struct.pack(">4scII", MAGIC, b"E", 1000, 12345) + b"{half"  # cut short by a power cut
        fd = os.open(segment.path, os.O_WRONLY)
        os.pwrite(fd, torn, end)
        os.close(fd)
        fd = os.open(segment.path, os.O_RDONLY)
        try:
            assert [(e.id, d) for e, d in read_segment(fd, segment.path)] == [("e1", b"one"), ("e2", b"two")]
        finally:
            os.close(fd)

    asyncio.run(main())


def test_a_segment_is_removed_once_every_entry_in_it_is_done(tmp_path):
    async def main():
        spool = Spool(tmp_path, segment_bytes=16 * 1024)
        entries = [(_entry(n), b"x" * 6000) for n in range(6)]
        await spool.put(entries)
        if spool._spare is not None:
            await spool._spare
        before = len(list(tmp_path.glob("*.seg")))
        for entry, _ in entries:
            spool.settle(entry, [0], [], done=True)
        assert len(list(tmp_path.glob("*.seg"))) < before
        await spool.close()
        assert not list(tmp_path.glob("*.seg")) and not list(tmp_path.glob("*.new"))

    asyncio.run(main())


def test_a_segment_stays_while_an_outcome_in_it_is_not_in_the_decision_log(tmp_path):
    async def main():
        spool = Spool(tmp_path, segment_bytes=16 * 1024)
        first, second = (_entry(1), b"x" * 9000), (_entry(2), b"y" * 9000)  # one segment each
        await spool.put([first])
        await spool.put([second])
        before = set(tmp_path.glob("*.seg"))
        spool.settle(first[0], [0], [{"id": "d1"}], done=True)  # done, its outcome not logged yet
        assert set(tmp_path.glob("*.seg")) >= before
        spool.logged(first[0].place)
        assert first[0].place.segment not in {p.name for p in tmp_path.glob("*.seg")}
        await spool.close()

    asyncio.run(main())


def test_a_taken_over_segment_gives_its_outcomes_and_marks_what_it_handed_on(tmp_path):
    async def main():
        dead = Spool(tmp_path, segment_bytes=64 * 1024)
        entries = [(_entry(n), b"m") for n in range(3)]
        await dead.put(entries)
        row = {"id": "d0", "verdict": "relayed"}
        dead.settle(entries[0][0], [0], [row], done=True)  # went; the log did not hear of it
        _die(dead)
        taker = Spool(tmp_path, segment_bytes=64 * 1024)
        orphans = taker.adopt()
        orphan = next(orphans)
        assert orphan.decisions == [row]
        assert [e.id for e, _, _ in orphan.pending] == ["e1", "e2"]
        orphan.taken(orphan.pending[0][0])  # e1 handed on; then this process dies too
        orphans.close()
        again = next(Spool(tmp_path).adopt())
        assert [e.id for e, _, _ in again.pending] == ["e2"] and again.decisions == [row]

    asyncio.run(main())


def test_a_segment_spent_while_a_slow_sync_has_it_is_closed_only_after_the_sync(tmp_path, monkeypatch):
    """A slow disk moves syncs to a thread; a segment that goes meanwhile must not have its descriptor
    closed under the sync (its number, reused by a socket, made fdatasync fail: every message a 451)."""
    from gateway.mail import spool as spool_module

    def slow(fds):
        time.sleep(0.05)
        for fd in fds:
            os.fdatasync(fd)

    async def main():
        spool = Spool(tmp_path, segment_bytes=16 * 1024)
        first = (_entry(1), b"x" * 9000)
        await spool.put([first])
        monkeypatch.setattr(spool_module, "_fdatasync_all", slow)
        spool._sync_seconds = 1.0  # as after a slow sync: the next ones in a thread
        spool.settle(first[0], [0], [{"id": "d1"}], done=True)  # its segment dirty, kept until logged
        putting = asyncio.ensure_future(spool.put([(_entry(2), b"y" * 9000)]))  # the next segment
        await asyncio.sleep(0.01)
        spool.logged(first[0].place)  # spent while the sync runs
        await putting  # no "cannot flush the queue"
        await spool.close()

    asyncio.run(main())


def test_a_waiting_entry_moves_to_the_current_segment_and_its_old_one_goes(tmp_path):
    async def main():
        spool = Spool(tmp_path, segment_bytes=16 * 1024)
        waiting, other = (_entry(1), b"w" * 9000), (_entry(2), b"o" * 9000)
        await spool.put([waiting])
        await spool.put([other])
        old = waiting[0].place.segment
        spool.settle(other[0], [0], [], done=True)
        await spool.move(waiting[0], [])
        assert waiting[0].place.segment != old and spool.read(waiting[0].place) == b"w" * 9000
        assert old not in {p.name for p in tmp_path.glob("*.seg")}
        _die(spool)
        adopted = [e.id for orphan in Spool(tmp_path).adopt() for e, _, _ in orphan.pending]
        assert adopted == ["e1"]  # once, from where it is now

    asyncio.run(main())


# -- the queue's decisions, with an upstream that answers as told ----------------------------------------


class _Upstream:
    """A relay whose transactions answer RCPT and DATA from a table (address: code)."""

    def __init__(self, rcpt: dict[str, int] | None = None, data: int = 250, down: bool = False):
        self.rcpt, self.data, self.down, self.sent = rcpt or {}, data, down, []

    async def begin(self, mail_from, options):
        if self.down and mail_from:  # (notices, from the null sender, still go)
            raise UpstreamUnavailable("connection refused")
        return _Tx(self, mail_from)

    async def close(self):
        pass


class _Tx:
    def __init__(self, relay: _Upstream, mail_from: str):
        self.relay, self.mail_from, self.recipients = relay, mail_from, []

    async def add_recipient(self, address, options):
        code = self.relay.rcpt.get(address, 250)
        if code == 250:
            self.recipients.append(address)
        return Reply(code, f"{code // 100}.0.0 as told")

    async def send(self, data):
        if self.relay.data == 250:
            self.relay.sent.append((self.mail_from, list(self.recipients), data))
        return Reply(self.relay.data, f"{self.relay.data // 100}.0.0 as told")

    async def abort(self):
        pass


class _NoStore:
    async def decision(self, decision_id):
        return None


def _decisions(*recipients: str) -> list[Decision]:
    return [
        Decision(f"d-{r}", datetime.now(UTC), Channel.EMAIL, "acme", r, Category.MARKETING, Verdict.RELAYED)
        for r in recipients
    ]


def _queue(tmp_path: Path, relay: _Upstream, settled: list) -> MailQueue:
    async def record(decisions):
        settled.extend(decisions)

    return MailQueue(
        Spool(tmp_path / "queue"), relay, _NoStore(), record, lambda d: None,
        hostname="gw.test", retry_seconds=3600, lifetime_hours=1, at_once=4,
    )  # fmt: skip


async def _run(queue: MailQueue) -> None:
    while queue._attempts:
        await asyncio.gather(*queue._attempts, return_exceptions=True)


def test_one_recipient_refused_for_good_is_reported_the_other_relayed_a_deferred_one_waits(tmp_path):
    async def main():
        relay, settled = _Upstream(rcpt={"no@example.com": 550, "later@example.com": 450}), []
        queue = _queue(tmp_path, relay, settled)
        rcpts = ["yes@example.com", "no@example.com", "later@example.com"]
        entry = entry_for(
            "news@example.com", [(r, ()) for r in rcpts], (), _decisions(*rcpts), "news@example.com"
        )
        await queue.accept([(entry, b"Subject: hi\r\n\r\nbody\r\n")])
        await _run(queue)
        verdicts = {d.recipient: d.verdict for d in settled}
        assert verdicts == {
            "yes@example.com": Verdict.RELAYED,
            "no@example.com": Verdict.FAILED,
            "later@example.com": Verdict.DEFERRED,
        }
        (message, notice) = relay.sent
        assert message[1] == ["yes@example.com"]
        assert notice[0] == "" and notice[1] == ["news@example.com"]  # from the null sender
        assert b"Final-Recipient: rfc822; no@example.com" in notice[2]
        assert b"later@example.com" not in notice[2].split(b"message/delivery-status")[1]
        assert queue.waiting == 1 and entry.id in queue._timers  # the deferred one, tried again later
        await queue.stop(1)

    asyncio.run(main())


def test_a_message_not_taken_within_its_lifetime_is_failed_and_returned_to_its_sender(tmp_path):
    async def main():
        relay, settled = _Upstream(down=True), []
        queue = _queue(tmp_path, relay, settled)
        entry = entry_for(
            "news@example.com", [("r@example.com", ())], (), _decisions("r@example.com"), "news@example.com"
        )
        entry.arrived -= 3601  # an hour and a second ago (lifetime_hours = 1)
        await queue.accept([(entry, b"Subject: hi\r\n\r\nbody\r\n")])
        await _run(queue)
        assert [d.verdict for d in settled] == [Verdict.FAILED]
        assert "upstream unavailable" in settled[0].upstream
        (notice,) = relay.sent
        assert notice[1] == ["news@example.com"] and b"4.4.7 not taken in 1 h" in notice[2]
        assert queue.waiting == 0
        await queue.stop(1)

    asyncio.run(main())


def test_a_notice_refused_for_good_is_dropped_not_bounced_again(tmp_path):
    async def main():
        relay, settled = _Upstream(data=554), []
        queue = _queue(tmp_path, relay, settled)
        entry = entry_for(
            "news@example.com", [("r@example.com", ())], (), _decisions("r@example.com"), "news@example.com"
        )
        await queue.accept([(entry, b"Subject: hi\r\n\r\nbody\r\n")])
        await _run(queue)
        assert [d.verdict for d in settled] == [Verdict.FAILED] and queue.waiting == 0
        await queue.stop(1)

    asyncio.run(main())


# -- the whole gateway ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _gateway(tmp_path: Path, **options):
    """The gateway (test_smtp's Setup) with `options`, stopped afterwards whatever happens."""
    gw = Setup(tmp_path, **options)
    try:
        yield gw
    finally:
        gw.close()


def _relayed(gw: Setup, n: int = 1) -> list:
    wait_until(lambda: sum(d.verdict is Verdict.RELAYED for d in gw.decisions()) >= n, timeout=20)
    return gw.decisions()


def test_queued_mail_is_answered_queued_and_relayed_with_its_decision(tmp_path):
    with _gateway(tmp_path, smtp_extra=QUEUED) as gw:
        with gw.client() as c:
            c.ehlo()
            c.mail("news@news.demo.example")
            c.rcpt("reader@example.com")
            code, text = c.data(SAMPLE)
        assert code == 250 and text.startswith(b"2.0.0 Queued as ")
        (decision,) = _relayed(gw)
        assert decision.recipient == "reader@example.com" and "Ok: queued as SINK" in decision.upstream
        ((envelope, data),) = gw.sink.messages()
        assert envelope["rcpt_tos"] == ["reader@example.com"] and b"List-Unsubscribe:" in data


def test_an_upstream_that_is_down_still_gets_the_client_a_451_at_rcpt(tmp_path):
    with _gateway(tmp_path, smtp_extra=QUEUED, start_sink=False) as gw:
        with gw.client() as c:
            c.ehlo()
            c.mail("news@news.demo.example")
            code, _ = c.rcpt("reader@example.com")
        assert code == 451


def test_a_deferral_at_data_is_queued_and_tried_again_until_the_upstream_takes_it(tmp_path):
    with _gateway(tmp_path, smtp_extra=QUEUED, sink_args=("--data-reply", "451 4.3.0 try later")) as gw:
        with gw.client() as c:
            assert c.sendmail("news@news.demo.example", ["reader@example.com"], SAMPLE) == {}
        wait_until(lambda: [d.verdict for d in gw.decisions()] == [Verdict.DEFERRED])
        assert "451 4.3.0 try later" in gw.decisions()[0].upstream
        gw.sink.stop()
        gw.sink = Sink(tmp_path / "sink", gw.upstream_port)  # the upstream takes mail again
        assert len(_relayed(gw)) == 1
        assert len(gw.sink.messages()) == 1


def test_marketing_to_several_recipients_is_queued_as_one_copy_each(tmp_path):
    people = [f"p{n}@example.com" for n in range(5)]
    with _gateway(tmp_path, smtp_extra=QUEUED) as gw:
        with gw.client() as c:
            c.ehlo()
            c.mail("news@news.demo.example")
            for p in people:
                c.rcpt(p)
            code, text = c.data(SAMPLE)
        assert code == 250 and b"Queued: 5 copies" in text
        _relayed(gw, 5)
        assert sorted(e["rcpt_tos"][0] for e, _ in gw.sink.messages()) == people


def test_a_refusal_for_good_after_the_250_goes_back_to_the_sender_in_a_dsn(tmp_path):
    with _gateway(tmp_path, smtp_extra=QUEUED, sink_args=("--refuse-data", "p001")) as gw:
        with gw.client() as c:
            assert c.sendmail("news@news.demo.example", ["p001@example.com"], SAMPLE) == {}
        wait_until(lambda: len(gw.sink.messages()) == 1)
        ((envelope, data),) = gw.sink.messages()
        assert envelope["mail_from"] in ("", "<>") and envelope["rcpt_tos"] == ["news@news.demo.example"]
        report = email.message_from_bytes(data)
        assert report.get_content_type() == "multipart/report"
        assert b"Final-Recipient: rfc822; p001@example.com" in data and b"Status: 5.7.1" in data
        assert [d.verdict for d in gw.decisions()] == [Verdict.FAILED]


def test_queued_mail_survives_a_kill_and_goes_after_the_next_start(tmp_path):
    with _gateway(tmp_path, smtp_extra=QUEUED, sink_args=("--data-reply", "451 4.3.0 try later")) as gw:
        with gw.client() as c:
            for n in range(3):
                c.sendmail(
                    "news@news.demo.example",
                    [f"r{n}@example.com"],
                    SAMPLE.replace(b"Message-ID: <", f"Message-ID: <{n}".encode(), 1),
                )
        wait_until(lambda: sum(d.verdict is Verdict.DEFERRED for d in gw.decisions()) == 3)
        gw.gateway.proc.kill()  # kill -9: nothing tidied
        gw.gateway.proc.wait()
        assert list((tmp_path / "state" / "queue").glob("*.seg"))
        gw.sink.stop()
        gw.sink = Sink(tmp_path / "sink", gw.upstream_port)
        gw.gateway = GatewayProcess(gw.config, gw.port, tmp_path, ENV)
        _relayed(gw, 3)
        assert sorted(e["rcpt_tos"][0] for e, _ in gw.sink.messages()) == [
            f"r{n}@example.com" for n in range(3)
        ]
        assert "taken over" in gw.gateway.output()


def test_a_stop_leaves_deferred_mail_queued_for_the_next_start_and_none_goes_twice(tmp_path):
    with _gateway(tmp_path, smtp_extra=QUEUED) as gw:
        with gw.client() as c:
            assert c.sendmail("news@news.demo.example", ["a@example.com"], SAMPLE) == {}
        _relayed(gw)
        gw.gateway.stop()
        gw.gateway = GatewayProcess(gw.config, gw.port, tmp_path, ENV)
        time.sleep(1.0)
        assert len(gw.sink.messages()) == 1  # done before the stop: not adopted, not sent again
        assert (
            not list((tmp_path / "state" / "queue").glob("*.seg")) or "taken over" not in gw.gateway.output()
        )


@pytest.mark.parametrize(
    "line, problem",
    [
        ("queue = 1", "queue"),
        ("queue_retry_seconds = 0", "queue_retry_seconds"),
        ("queue_lifetime_hours = 100000", "queue_lifetime_hours"),
    ],
)
def test_bad_queue_settings_are_refused_naming_the_key(tmp_path, line, problem):
    from test_smtp import CONFIG  # with the line added under [smtp]

    path = tmp_path / "gateway.toml"
    path.write_text(CONFIG.format(http_port=1, tmp=tmp_path, port=2, upstream=3, smtp_extra=line))
    with pytest.raises(ConfigError) as refused:
        load_config(str(path))
    assert f"smtp.{problem}" in str(refused.value)


def test_the_queue_directory_lies_under_state_dir(tmp_path):
    with _gateway(tmp_path, smtp_extra=QUEUED) as gw:
        with gw.client() as c:
            c.sendmail("news@news.demo.example", ["a@example.com"], SAMPLE)
        _relayed(gw)
        assert (tmp_path / "state" / "queue").is_dir()


def test_a_full_queue_refuses_for_now_and_metrics_count_what_waits(tmp_path):
    from test_workers import metrics

    extra = QUEUED + "\nqueue_max_messages = 1"
    with _gateway(tmp_path, smtp_extra=extra, sink_args=("--data-reply", "451 4.3.0 try later")) as gw:
        with gw.client() as c:
            assert c.sendmail("news@news.demo.example", ["a@example.com"], SAMPLE) == {}
        wait_until(lambda: [d.verdict for d in gw.decisions()] == [Verdict.DEFERRED])
        assert "gateway_queue_messages 1.0" in metrics(gw)
        with gw.client() as c, pytest.raises(smtplib.SMTPDataError) as refused:
            c.sendmail(
                "news@news.demo.example", ["b@example.com"], SAMPLE.replace(b"Subject:", b"Subject: 2", 1)
            )
        assert refused.value.smtp_code == 452 and b"queue is full" in refused.value.smtp_error


def test_the_copies_of_a_fan_out_count_against_a_full_queue_one_by_one(tmp_path):
    """Twenty copies ask whether the queue is full one after another, before any is on the disk: the cap
    holds all the same, and the client hears that the rest were not taken."""
    from test_workers import metrics

    extra = QUEUED + "\nqueue_max_messages = 3"
    with _gateway(tmp_path, smtp_extra=extra, sink_args=("--data-reply", "451 4.3.0 try later")) as gw:
        with gw.client() as c, pytest.raises(smtplib.SMTPDataError) as refused:
            c.sendmail("news@news.demo.example", [f"p{n:02d}@example.com" for n in range(20)], SAMPLE)
        assert refused.value.smtp_code in (451, 452), refused.value
        assert "gateway_queue_messages 3.0" in metrics(gw)


# -- what a review found: a pid that comes back, a client gone mid-sync, a failed sync, a log that is down


def test_a_new_process_with_a_dead_ones_pid_neither_overwrites_nor_removes_its_segments(tmp_path):
    """In a container the gateway is pid 1 at every start: segment names must not collide."""

    async def main():
        dead = Spool(tmp_path, segment_bytes=16 * 1024)
        await dead.put([(_entry(n), b"d" * 9000) for n in range(3)])
        _die(dead)
        alive = Spool(tmp_path, segment_bytes=16 * 1024)  # the same pid, as after a restart
        await alive.put([(_entry(n), b"a" * 9000) for n in range(10, 13)])
        adopted = [e.id for orphan in alive.adopt() for e, _, _ in orphan.pending]
        assert sorted(adopted) == ["e0", "e1", "e2"]
        names = {p.name for p in tmp_path.glob("*.seg")}
        assert {s.path.name for s in alive._segments.values()} <= names  # its own are all still there
        await alive.close()

    asyncio.run(main())


def test_a_message_on_the_disk_goes_even_if_its_client_is_gone_before_the_sync_returns(tmp_path, monkeypatch):
    from gateway.mail import spool as spool_module

    def slow(fds):
        time.sleep(0.1)
        for fd in fds:
            os.fdatasync(fd)

    async def main():
        relay, settled = _Upstream(), []
        queue = _queue(tmp_path, relay, settled)
        await queue.spool.put([(_entry(0), b"warm")])  # a segment made; the next syncs slow
        monkeypatch.setattr(spool_module, "_fdatasync_all", slow)
        queue.spool._sync_seconds = 1.0
        entry = entry_for(
            "news@example.com", [("r@example.com", ())], (), _decisions("r@example.com"), "news@example.com"
        )
        accepting = asyncio.ensure_future(queue.accept([(entry, b"Subject: hi\r\n\r\nbody\r\n")]))
        await asyncio.sleep(0.02)
        accepting.cancel()  # the client's connection lost: its session cancelled
        await asyncio.sleep(0.3)
        await _run(queue)
        assert [r for _, r, _ in relay.sent] == [["r@example.com"]]
        assert [d.verdict for d in settled] == [Verdict.RELAYED] and queue.waiting == 0
        await queue.stop(1)

    asyncio.run(main())


def test_a_failed_sync_leaves_nothing_to_be_sent_later(tmp_path, monkeypatch):
    from gateway.mail import spool as spool_module
    from gateway.mail.spool import SpoolError

    def failing(fds):
        raise OSError(5, "Input/output error")

    async def main():
        spool, warm = Spool(tmp_path), _entry(0)
        await spool.put([(warm, b"warm")])
        spool.settle(warm, [0], [], done=True)
        monkeypatch.setattr(spool_module, "_fdatasync_all", failing)
        spool._sync_seconds = 1.0
        with pytest.raises(SpoolError):
            await spool.put([(_entry(1), b"not acknowledged")])
        _die(spool)
        assert [e.id for orphan in Spool(tmp_path).adopt() for e, _, _ in orphan.pending] == []

    asyncio.run(main())


def test_an_outcome_the_log_cannot_take_is_kept_and_written_later(tmp_path):
    async def main():
        relay, written, down = _Upstream(), [], [True]

        async def record(decisions):
            if down[0]:
                raise OSError(28, "No space left on device")
            written.extend(decisions)

        queue = MailQueue(
            Spool(tmp_path / "queue"), relay, _NoStore(), record, lambda d: None,
            hostname="gw.test", retry_seconds=3600, lifetime_hours=1, at_once=4,
        )  # fmt: skip
        entry = entry_for(
            "news@example.com", [("r@example.com", ())], (), _decisions("r@example.com"), "news@example.com"
        )
        await queue.accept([(entry, b"Subject: hi\r\n\r\nbody\r\n")])
        await _run(queue)
        assert written == [] and len(queue._unlogged) == 1
        assert list((tmp_path / "queue").glob("*.seg"))  # its segment keeps the outcome meanwhile
        down[0] = False
        await queue.adopt()  # (every minute: outcomes first)
        assert [d.verdict for d in written] == [Verdict.RELAYED] and queue._unlogged == []
        await queue.stop(1)

    asyncio.run(main())
