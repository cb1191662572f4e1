"""The SMTP door's upstream side against a misbehaving upstream (tests/hostile_upstream.py), end to end:
`gateway serve` in its own process relaying to `smtp://` a hostile server in this process, smtplib (or a raw
socket) as the client, retrying after a 4xx as an MTA does.

For each fault: what the client was told against what the upstream took, duplicates after the client's (or
the queue's) retry, the log (no traceback, no ERROR), the decision log, and normal mail going through
quickly afterwards. SPEC (SMTP): `250` only once the upstream has accepted the message for those
recipients; upstream down or slow gives `451 4.4.1`; nothing acknowledged is ever lost; nothing is delivered
twice because of a retry the gateway caused; bad input of any kind gets a clear error, never a traceback.
"""

from __future__ import annotations

import json
import re
import smtplib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import ACME_SENDER, ACME_TX_SENDER, REPO, run_cli
from hostile_upstream import DEFAULT_EHLO, HostileUpstream, Rule
from servers import GatewayProcess, RawClient, free_port, wait_until

SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes().replace(b"\n", b"\r\n")
PASSWORD = "acme-smtp-secret-1"
ENV = {
    "ACME_SMTP_PASSWORD": PASSWORD,
    "TX_SMTP_PASSWORD": PASSWORD,
    "UPSTREAM_PASSWORD": "relay-secret-1",
    "GATEWAY_TOKEN_SECRET": "test-token-secret-0123456789",
}
TIMEOUT = 1  # smtp.upstream_timeout, seconds
SLOW = 1.6  # an answer slower than that

CONFIG = (
    """
[gateway]
database = "sqlite:///{tmp}/gateway.db"
state_dir = "{tmp}/state"
public_url = "https://gw.example"

[smtp]
listen = "127.0.0.1:{port}"
upstream = "smtp://{user}127.0.0.1:{upstream}"
upstream_timeout = {timeout}
upstream_data_timeout = 4
upstream_pool_size = {pool}
drain_seconds = 5
{extra}

[http]
listen = "127.0.0.1:{http}"

"""
    + ACME_SENDER
    + "\n"
    + ACME_TX_SENDER
)


def message(mid: str) -> bytes:
    """The shipped newsletter (compliant marketing mail of the acme sender) with its own Message-ID."""
    return SAMPLE.replace(b"<spring-2026@news.demo.example>", f"<{mid}@news.demo.example>".encode())


@dataclass
class Outcome:
    """What the client was told: `code`/`text` for the message as a whole (the end of DATA, or the refusal
    that stopped it), and each recipient's answer at RCPT."""

    code: int
    text: str
    rcpt: dict[str, tuple[int, str]] = field(default_factory=dict)

    def deferred(self) -> list[str]:
        """The recipients a client sends again: all of them after a 4xx to the message, else those
        deferred at RCPT."""
        if 400 <= self.code < 500:
            return list(self.rcpt)
        return [r for r, (code, _) in self.rcpt.items() if 400 <= code < 500]


class World:
    """A hostile upstream and a gateway relaying to it."""

    def __init__(
        self,
        tmp: Path,
        *,
        pool: int = 2,
        extra: str = "",
        upstream_user: bool = False,
        **upstream: object,
    ) -> None:
        self.up = HostileUpstream(**upstream).start()  # type: ignore[arg-type]
        self.tmp, self.port = tmp, free_port()
        self.config = tmp / "gateway.toml"
        user = "relay@" if upstream_user else ""
        if upstream_user:
            extra += '\nupstream_password_env = "UPSTREAM_PASSWORD"'
        self.config.write_text(
            CONFIG.format(
                tmp=tmp,
                port=self.port,
                http=free_port(),
                upstream=self.up.port,
                user=user,
                timeout=TIMEOUT,
                pool=pool,
                extra=extra,
            )
        )
        self.pool = pool
        self.epoch, self.log_from = 0, 0
        self.gateway = GatewayProcess(self.config, self.port, tmp, ENV)

    def reset(self) -> None:
        """Between two tests on one gateway: a well-behaved upstream again, with no connection open (the
        gateway replaces the pooled ones it finds closed), and fresh Message-IDs and counts."""
        up = self.up
        up.clear()
        up.ehlo, up.idle_close, up.refuse_rcpt, up.max_size = list(DEFAULT_EHLO), None, None, None
        up.drop_idle()
        wait_until(lambda: up.open_connections == 0, 5)
        up.accepted, up.commands = [], []
        self.epoch += 1
        self.log_from = len(self.log())

    def mid(self, name: str) -> str:
        return f"{name}-{self.epoch}"

    def send(self, recipients: list[str], mid: str, user: str = "acme") -> Outcome:
        sender = "news@news.demo.example" if user == "acme" else "orders@news.demo.example"
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
        try:
            c.login(user, PASSWORD)
            code, text = c.mail(sender)
            assert code == 250, (code, text)
            rcpt = {}
            for r in recipients:
                code, text = c.rcpt(r)
                rcpt[r] = (code, text.decode(errors="replace"))
            taken = [r for r, (code, _) in rcpt.items() if code in (250, 251)]
            if not taken:
                first = rcpt[recipients[0]]
                return Outcome(first[0], first[1], rcpt)
            try:
                code, text = c.data(message(self.mid(mid)))
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, e.smtp_error
            return Outcome(code, text.decode(errors="replace"), rcpt)
        finally:
            try:
                c.quit()
            except (smtplib.SMTPException, OSError):
                c.close()

    def send_as_an_mta(self, recipients: list[str], mid: str, attempts: int = 3) -> list[Outcome]:
        """Send, and after a 4xx send again what was deferred (as an MTA would, minutes later: here once
        the upstream has answered everything of the attempt before)."""
        outcomes = [self.send(recipients, mid)]
        for _ in range(attempts - 1):
            again = outcomes[-1].deferred()
            if not again:
                break
            wait_until(lambda: self.up.in_flight == 0, 10)
            outcomes.append(self.send(again, mid))
        return outcomes

    def raw_transaction(self, recipients: list[bytes], mid: str) -> tuple[RawClient, list[tuple[str, bytes]]]:
        """A transaction on a raw socket: every reply line as the gateway wrote it."""
        c = RawClient(self.port, login=("acme", PASSWORD))
        lines: list[tuple[str, bytes]] = []

        def say(stage: str, data: bytes) -> bytes:
            c.sock.sendall(data)
            line = c.file.readline()
            lines.append((stage, line))
            return line

        say("MAIL", b"MAIL FROM:<news@news.demo.example>\r\n")
        for r in recipients:
            say("RCPT", b"RCPT TO:<" + r + b">\r\n")
        if say("DATA", b"DATA\r\n").startswith(b"354"):
            say("DOT", message(self.mid(mid)).replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        return c, lines

    def decisions(self) -> list[dict]:
        code, out, err = run_cli("report", "--config", str(self.config), "--format", "json")
        assert code == 0, err
        return json.loads(out)

    def outcome_of(self, mid: str) -> dict[str, set[str]]:
        """Each recipient's verdicts for this message."""
        found: dict[str, set[str]] = {}
        for d in self.decisions():
            if d["message_id"] == f"{self.mid(mid)}@news.demo.example":
                found.setdefault(d["recipient"], set()).add(d["verdict"])
        return found

    def log(self) -> str:
        return self.gateway.output()

    def assert_log_clean(self) -> None:
        log = self.log()[self.log_from :]
        assert "Traceback" not in log, f"a traceback in the gateway's log:\n{log[-4000:]}"
        errors = [line for line in log.splitlines() if " ERROR " in line]
        assert not errors, f"ERROR lines in the gateway's log: {errors}"

    def assert_healthy(self, tag: str) -> None:
        """After the fault: normal mail from three clients at once goes through quickly, each once, and
        the gateway holds no more upstream connections than its pool."""
        self.up.clear()
        started = time.monotonic()
        names = [f"healthy{i}-{tag}@example.com" for i in range(3)]
        with ThreadPoolExecutor(3) as pool:
            outcomes = list(pool.map(lambda n: self.send([n], f"healthy-{n}"), names))
        took = time.monotonic() - started
        assert [o.code for o in outcomes] == [250] * 3, f"normal mail after the fault: {outcomes}"
        assert took < 3 * TIMEOUT, f"normal mail after the fault took {took:.1f} s"
        assert [self.up.delivered_to(n) for n in names] == [1, 1, 1]
        wait_until(lambda: self.up.open_connections <= self.pool, 5)

    def close(self) -> None:
        try:
            self.gateway.stop()
        finally:
            self.up.stop()


@pytest.fixture
def make_world(tmp_path):
    """make_world(**settings): a World of the test's own, stopped at its end."""
    made: list[World] = []

    def make(**settings: object) -> World:
        made.append(World(tmp_path, **settings))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for w in made:
        w.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("shared"))
    yield w
    w.close()


@pytest.fixture
def world(shared):
    """The module's gateway (pool of 2), its upstream behaving again, for tests that leave nothing behind
    on the pooled connections; a test whose fault may do so makes a world of its own."""
    shared.reset()
    return shared


VALID_REPLY = re.compile(rb"^[245][0-5][0-9][ -][^\r\n]*\r\n$")


# ---------------------------------------------------------------------------------------------------
# Defects: these fail on the current code.
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "recipients", [["a@example.com"], ["a@example.com", "b@example.com"]], ids=["one", "fanout"]
)
def test_a_2xx_answer_to_DATA_is_not_taken_for_delivery(world, recipients):
    """An upstream that answers the DATA command with 250 (or any 2xx) instead of 354 has not received the
    message: it was never sent. A `250 Accepted upstream` for it acknowledges mail nobody has."""
    world.up.set_rules([Rule("DATA", "reply", text="250 2.0.0 Ok\r\n", times=1)])
    outcome = world.send(recipients, "data-250")
    if outcome.code == 250:
        missing = [r for r in recipients if world.up.delivered_to(r) == 0]
        assert not missing, (
            f"the client was told {outcome.code} {outcome.text!r}, but the upstream never received the "
            f"message for {missing} (it answered DATA with 250, not 354): acknowledged and lost; "
            f"decisions: {world.outcome_of('data-250')}"
        )
    world.assert_healthy("data250")


@pytest.mark.parametrize(
    "extra",
    [b"250 2.0.0 Ok: queued as X1\r\n250 2.0.0 Ok\r\n", b"250 2.0.0 Ok: queued as X1\nXX junk\r\n"],
    ids=["extra-reply-line", "junk-after-bare-LF"],
)
def test_what_an_upstream_sends_after_its_final_answer_does_not_befall_the_next_message(make_world, extra):
    """The final dot's 250 arrives with something after it. The pooled connection keeps those bytes, and
    the next message on it (another client's) must neither be acknowledged without reaching the upstream,
    nor be deferred by an upstream that is fine."""
    world = make_world(pool=1)
    world.up.set_rules([Rule("DOT", "reply", text=extra, times=1)])
    first = world.send(["a@example.com"], "extra-1")
    assert first.code == 250 and world.up.delivered_to("a@example.com") == 1
    world.up.clear()
    second = world.send(["b@example.com"], "extra-2")
    delivered = world.up.delivered_to("b@example.com")
    assert not (second.code == 250 and delivered == 0), (
        f"the next message was told {second.code} {second.text!r} but the upstream never received it "
        f"(the pooled connection was out of step: each command read the answer to the one before); "
        f"decisions: {world.outcome_of('extra-2')}"
    )
    assert second.code == 250 and delivered == 1, (
        f"a healthy upstream, and the next message was told {second.code} {second.text!r} "
        f"(the connection left with unread bytes went back to the pool); log: {world.log()[-600:]}"
    )


def test_a_final_answer_the_gateway_cannot_read_is_a_451_and_an_unknown_outcome(world):
    """The upstream takes the message at once and says so with a 100 KB line no client reads. The client
    hears a valid reply (451: the gateway cannot tell it the message went), and the decision says the
    outcome is unknown, not that the message failed (the upstream may well have it). Its retry may then
    deliver a second copy: telling the client 250 for what the gateway cannot read would risk a loss."""
    world.up.set_rules([Rule("DOT", "reply", text="250 2.0.0 Ok " + "x" * 100_000 + "\r\n", times=1)])
    outcome = world.send(["a@example.com"], "long-250")
    assert outcome.code == 451 and outcome.text.startswith("4.4.1"), (outcome.code, outcome.text)
    assert world.outcome_of("long-250").get("a@example.com") == {"unknown"}, world.outcome_of("long-250")


@pytest.mark.parametrize(
    "recipients",
    [["a@example.com"], ["a@example.com", "b@example.com", "c@example.com"]],
    ids=["one", "fanout"],
)
def test_a_slow_final_answer_and_the_clients_retry_deliver_once(world, recipients):
    """The upstream answers the final dot after longer than upstream_timeout, and takes the message. The
    gateway's 451 makes the client send again: that retry is one the gateway caused, and must not give the
    recipient a second copy (RFC 5321 4.5.3.2.6 gives the final dot 10 minutes for this reason)."""
    world.up.set_rules([Rule("DOT", "delay", seconds=SLOW, times=1)])
    outcomes = world.send_as_an_mta(recipients, "slow-dot")
    counts = {r: world.up.delivered_to(r) for r in recipients}
    assert outcomes[-1].code == 250, [(o.code, o.text) for o in outcomes]
    assert all(n == 1 for n in counts.values()), (
        f"copies the upstream took: {counts}; the client was told {[(o.code, o.text) for o in outcomes]}; "
        f"decisions: {world.outcome_of('slow-dot')}"
    )


def test_the_queues_own_retry_does_not_deliver_twice(make_world):
    """With smtp.queue the gateway retries by itself: a copy the upstream took slowly (past
    upstream_timeout, within upstream_data_timeout) must not be sent again by that retry."""
    world = make_world(extra="queue = true\nqueue_retry_seconds = 1")
    world.up.set_rules([Rule("DOT", "delay", seconds=SLOW, times=1)])
    outcome = world.send(["a@example.com"], "queued")
    assert outcome.code == 250 and "Queued" in outcome.text, outcome
    wait_until(lambda: world.outcome_of("queued").get("a@example.com", set()) & {"relayed", "failed"}, 15)
    wait_until(lambda: world.up.in_flight == 0, 10)
    assert world.up.delivered_to("a@example.com") == 1, (
        f"the gateway's own retry delivered the message {world.up.delivered_to('a@example.com')} times; "
        f"decisions: {world.outcome_of('queued')}"
    )


@pytest.mark.parametrize(
    "answer",
    [
        b"2x0 what\r\n",
        b"550 " + b"y" * 20_000 + b"\r\n",
        b"999 what\r\n",
        b"354 go on\r\n",
    ],
    ids=["bad-code", "huge-line", "code-999", "354-at-RCPT"],
)
def test_a_malformed_upstream_answer_at_RCPT_reaches_the_client_as_a_valid_reply(world, answer):
    world.up.set_rules([Rule("RCPT", "reply", text=answer)])
    c, lines = world.raw_transaction([b"a@example.com"], "bad-rcpt")
    c.close()
    stage, line = lines[1]
    assert stage == "RCPT" and VALID_REPLY.match(line) and line[:1] in b"245" and not line.startswith(b"3"), (
        f"upstream answered RCPT with {answer[:40]!r}; the client was told {line[:120]!r}"
    )
    world.assert_log_clean()


def test_a_malformed_final_answer_reaches_the_client_as_a_valid_reply(world):
    world.up.set_rules([Rule("DOT", "reply", text=b"999 what\r\n")])
    c, lines = world.raw_transaction([b"a@example.com", b"b@example.com"], "bad-dot")
    c.close()
    stage, line = lines[-1]
    assert stage == "DOT" and VALID_REPLY.match(line), (
        f"the upstream answered the final dot with '999 what'; the client was told {line!r}"
    )


def test_an_upstream_421_at_RCPT_is_not_the_gateways_own_421(world):
    """421 says the server is closing the channel (RFC 5321 3.8). The upstream's 421 is the upstream going
    away: the client should hear 451 4.4.1 (SPEC), not a 421 on a connection the gateway keeps open."""
    world.up.set_rules([Rule("RCPT", "reply_close", text="421 4.3.2 upstream shutting down\r\n", nth=2)])
    c, lines = world.raw_transaction([b"a@example.com", b"b@example.com"], "rcpt-421")
    told = lines[2][1]
    c.sock.sendall(b"NOOP\r\n")
    after = c.file.readline()
    c.close()
    assert not (told.startswith(b"421") and after), (
        f"the client was told {told!r} at RCPT, and the gateway kept the session open (NOOP: {after!r})"
    )


@pytest.mark.parametrize(
    "event, answer, expected",
    [("RCPT", b"550 5.1.1 unknown \xff\xfe user\r\n", 550), ("DOT", b"250 2.0.0 queued \xff\xfe\r\n", 250)],
    ids=["RCPT-refusal", "final-250"],
)
def test_an_upstream_answer_that_is_not_utf8_is_passed_on_without_a_traceback(world, event, answer, expected):
    world.up.set_rules([Rule(event, "reply", text=answer, times=1)])
    outcome = world.send(["a@example.com"], f"latin-{event}")
    code = outcome.rcpt["a@example.com"][0] if event == "RCPT" else outcome.code
    assert code == expected, (
        f"the upstream answered {answer!r}; the client was told {code} "
        f"{outcome.rcpt['a@example.com'] if event == 'RCPT' else outcome.text!r}; "
        f"upstream took {world.up.delivered_to('a@example.com')}"
    )
    world.assert_log_clean()


@pytest.mark.parametrize(
    "fault",
    ["535", "no-common-mechanism"],
)
def test_a_failed_upstream_login_does_not_leak_connections(make_world, fault):
    """A wrong upstream password (535), or an upstream offering no mechanism the gateway has: each message
    gets 451 4.4.1, and the connection the gateway opened for it is closed again."""
    world = make_world(upstream_user=True, ehlo=["AUTH PLAIN", "PIPELINING"])
    if fault == "535":
        world.up.set_rules([Rule("AUTH", "reply", text="535 5.7.8 Authentication credentials invalid\r\n")])
    else:
        world.up.ehlo = ["AUTH GSSAPI NTLM", "PIPELINING"]
    for i in range(6):
        outcome = world.send(["a@example.com"], f"login-{i}")
        assert outcome.code == 451 and outcome.text.startswith("4.4.1"), outcome
    try:
        wait_until(lambda: world.up.open_connections <= world.pool, 2)
    except TimeoutError:
        pytest.fail(
            f"{world.up.open_connections} connections to the upstream still open after 6 failed logins "
            f"(pool size {world.pool}): each failed login leaves its connection open"
        )
    world.assert_log_clean()


# ---------------------------------------------------------------------------------------------------
# Faults the gateway holds against (these pass).
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        Rule("CONNECT", "hang"),
        Rule("CONNECT", "reply_close", text="421 4.3.2 hostile.test too busy\r\n"),
        Rule("EHLO", "reply_close", text="421 4.7.0 go away\r\n"),
        Rule("MAIL", "close"),
        Rule("RCPT", "close"),
        Rule("RCPT", "hang"),
        Rule("DATA", "close"),
        Rule("DATA", "close", text="354 go ahead\r\n"),  # 354, then gone before the message
        Rule("DOT", "close"),  # gone at the final dot, nothing taken
        Rule("DOT", "hang"),  # never answers the final dot, nothing taken
    ],
    ids=lambda r: f"{r.do}-at-{r.on}" + ("-after-354" if r.text and r.text.startswith("354") else ""),
)
def test_an_upstream_that_is_down_or_drops_is_451_and_the_retry_delivers_once(world, rule):
    """One recipient, then marketing mail to two (one copy each): 451 4.4.1 while the upstream is down or
    drops the connection, nothing taken; the client's retry delivers each copy once, each recipient's
    decision says relayed, and normal mail goes on."""
    for recipients in (["a@example.com"], ["b@example.com", "c@example.com"]):
        world.up.drop_idle()  # every connection of the message is a new one
        wait_until(lambda: world.up.open_connections == 0, 5)
        world.up.set_rules([rule])
        first = world.send(recipients, f"down-{len(recipients)}")
        refusals = [first.rcpt[r] for r in recipients if first.rcpt[r][0] != 250]
        if not refusals:
            refusals = [(first.code, first.text)]
        assert all(code == 451 and text.startswith(("4.4.1", "4.3.0")) for code, text in refusals), first
        assert sum(world.up.delivered_to(r) for r in recipients) == 0
        world.up.clear()
        wait_until(lambda: world.up.in_flight == 0, 5)
        again = world.send(recipients, f"down-{len(recipients)}")
        assert again.code == 250, again
        assert [world.up.delivered_to(r) for r in recipients] == [1] * len(recipients)
        verdicts = world.outcome_of(f"down-{len(recipients)}")
        assert all("relayed" in verdicts.get(r, set()) for r in recipients), verdicts
    world.assert_log_clean()
    world.assert_healthy("down")


def test_replies_split_byte_by_byte_are_read_whole(world):
    world.up.set_rules([Rule(e, "split") for e in ("CONNECT", "EHLO", "MAIL", "RCPT", "DATA", "DOT", "RSET")])
    outcome = world.send(["a@example.com", "b@example.com"], "split")
    assert outcome.code == 250, outcome
    assert world.up.delivered_to("a@example.com") == world.up.delivered_to("b@example.com") == 1
    world.assert_log_clean()


def test_a_multiline_final_answer_leaves_the_pooled_connection_in_step(make_world):
    world = make_world(pool=1)
    world.up.set_rules(
        [Rule("DOT", "split", text="250-2.0.0 Ok\r\n250-more\r\n250 queued as M1\r\n", times=1)]
    )
    assert world.send(["a@example.com"], "multiline").code == 250
    world.assert_healthy("multiline")


def test_452_at_the_second_recipient_still_delivers_every_copy_once(world):
    world.up.set_rules([Rule("RCPT", "reply", text="452 4.5.3 Too many recipients\r\n", nth=2)])
    recipients = ["a@example.com", "b@example.com", "c@example.com"]
    outcomes = world.send_as_an_mta(recipients, "452")
    assert outcomes[-1].code == 250, [(o.code, o.text) for o in outcomes]
    assert [world.up.delivered_to(r) for r in recipients] == [1, 1, 1]
    world.assert_healthy("452")


@pytest.mark.parametrize(
    "recipients", [["a@example.com"], ["a@example.com", "b@example.com"]], ids=["one", "fanout"]
)
def test_a_5xx_at_DATA_is_the_clients_answer_and_nothing_is_delivered(world, recipients):
    world.up.set_rules([Rule("DATA", "reply", text="554 5.7.1 Not from you\r\n")])
    outcome = world.send(recipients, "554")
    assert (outcome.code, outcome.text) == (554, "5.7.1 Not from you")
    assert sum(world.up.delivered_to(r) for r in recipients) == 0
    wait_until(lambda: len(world.outcome_of("554")) == len(recipients))
    assert all(v == {"failed"} for v in world.outcome_of("554").values())
    world.assert_healthy("554")


def test_a_copy_deferred_at_DATA_is_the_only_one_sent_again(world):
    world.up.set_rules([Rule("DATA", "reply", text="451 4.3.0 Try later\r\n", times=1)])
    recipients = ["a@example.com", "b@example.com", "c@example.com"]
    outcomes = world.send_as_an_mta(recipients, "one-deferred")
    assert outcomes[0].code == 451 and "1 of 3" in outcomes[0].text, outcomes[0]
    assert outcomes[-1].code == 250
    assert [world.up.delivered_to(r) for r in recipients] == [1, 1, 1]


def test_pooled_connections_the_upstream_closes_with_421_when_idle_are_replaced(world):
    world.up.idle_close = 0.3
    for i in range(3):
        wait_until(lambda: world.up.open_connections == 0, 5)
        outcome = world.send([f"r{i}@example.com", f"s{i}@example.com"], f"idle-{i}")
        assert outcome.code == 250, outcome
    assert all(world.up.delivered_to(f"{p}{i}@example.com") == 1 for p in "rs" for i in range(3))
    world.assert_log_clean()


def test_a_slow_RSET_does_not_put_the_pool_out_of_step(world):
    world.up.set_rules([Rule("RSET", "delay", seconds=SLOW, times=1)])
    outcome = world.send(["a@example.com", "b@example.com"], "slow-rset")  # the RCPT transaction is RSET
    assert outcome.code == 250, outcome
    world.assert_healthy("slow-rset")
    assert world.up.delivered_to("a@example.com") == world.up.delivered_to("b@example.com") == 1


def test_an_upstream_whose_SIZE_is_smaller_than_the_message_refuses_it_for_good(world):
    world.up.ehlo, world.up.max_size = ["SIZE 10", "8BITMIME"], 10
    outcome = world.send(["a@example.com", "b@example.com"], "size")
    assert outcome.code == 552 and outcome.text.startswith("5.3.4"), outcome
    assert world.up.accepted == []
    wait_until(lambda: len(world.outcome_of("size")) == 2)
    assert all(v == {"failed"} for v in world.outcome_of("size").values())
    world.assert_log_clean()


def test_an_upstream_without_extensions_gets_every_copy(world):
    world.up.ehlo = []
    outcome = world.send(["a@example.com", "b@example.com"], "plain")
    assert outcome.code == 250
    assert world.up.delivered_to("a@example.com") == world.up.delivered_to("b@example.com") == 1


def test_the_upstream_login_is_made_and_mail_goes(make_world):
    world = make_world(upstream_user=True, ehlo=["AUTH PLAIN", "PIPELINING"])
    assert world.send(["a@example.com"], "login-ok").code == 250
    assert any(line.startswith("AUTH PLAIN") for _, line in world.up.commands)
    assert world.up.delivered_to("a@example.com") == 1


def test_a_banner_trickled_in_is_waited_for(world):
    world.up.set_rules([Rule("CONNECT", "trickle", rate=100, times=1)])  # a third of a second
    assert world.send(["a@example.com"], "trickle").code == 250
    assert world.up.delivered_to("a@example.com") == 1


def test_an_upstream_421_at_MAIL_is_not_passed_on_either(world):
    """The upstream closes with 421 at the MAIL the gateway sends at the first accepted RCPT: the client hears
    451 4.4.1 for that recipient, and the next message goes through on a new connection."""
    world.up.set_rules([Rule("MAIL", "reply_close", text="421 4.3.2 upstream shutting down\r\n", times=1)])
    outcome = world.send(["a@example.com"], "mail-421")
    code, text = outcome.rcpt["a@example.com"]
    assert code == 451 and text.startswith("4.4.1"), (code, text)
    assert world.send(["b@example.com"], "after-mail-421").code == 250
    world.assert_log_clean()
