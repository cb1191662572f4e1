"""Marketing mail to several recipients in one transaction (gateway/mail/fanout.py), on real sockets: every
recipient taken, the upstream's refusals passed on at RCPT, one copy per recipient with its own link and
return path, one answer at the end, and retries that send nothing twice."""

from __future__ import annotations

import email
import re
import smtplib
import time

import pytest
from test_smtp import SAMPLE, Setup

from gateway.mail.actions import Action
from gateway.mail.fanout import combined


def people(n: int) -> list[str]:
    return [f"p{i:03d}@example.com" for i in range(n)]


def test_fifty_recipients_over_a_small_pool_each_get_their_own_copy(tmp_path):
    gw = Setup(tmp_path, smtp_extra='upstream_pool_size = 4\nbounce_domain = "bounce.gw.example"')
    try:
        with gw.client() as c:
            assert c.sendmail("news@news.demo.example", people(50), SAMPLE) == {}
        copies = gw.sink.messages()
        assert sorted(e["rcpt_tos"][0] for e, _ in copies) == people(50)
        return_paths = {e["mail_from"] for e, _ in copies}
        assert len(return_paths) == 50 and all(p.endswith("@bounce.gw.example") for p in return_paths)
        tokens = {re.search(rb"/unsubscribe/([A-Za-z0-9_-]+)", d).group(1) for _, d in copies}
        assert len(tokens) == 50
    finally:
        gw.close()


def test_the_upstreams_refusal_of_one_recipient_is_that_recipients_answer_at_rcpt(tmp_path):
    gw = Setup(tmp_path, sink_args=("--refuse-rcpt", "p001"))
    try:
        with gw.client() as c:
            refused = c.sendmail("news@news.demo.example", people(3), SAMPLE)
        assert list(refused) == ["p001@example.com"] and refused["p001@example.com"][0] == 550
        assert sorted(e["rcpt_tos"][0] for e, _ in gw.sink.messages()) == [
            "p000@example.com",
            "p002@example.com",
        ]
    finally:
        gw.close()


def test_an_upstream_that_defers_every_copy_gets_a_451_and_nothing_is_recorded_as_relayed(tmp_path):
    gw = Setup(tmp_path, sink_args=("--data-reply", "451 4.3.0 try later"))
    try:
        with gw.client() as c, pytest.raises(Exception) as failed:
            c.sendmail("news@news.demo.example", people(3), SAMPLE)
        assert "451" in str(failed.value)
        verdicts = {d.recipient: d.verdict.value for d in gw.decisions(3)}
        assert verdicts == dict.fromkeys(people(3), "failed")
    finally:
        gw.close()


@pytest.mark.parametrize(
    "answers, code, words",
    [
        ([250, 250, 250], 250, "3 copies"),
        ([550, 550], 550, "no"),
        ([250, 550, 451], 451, "2 of 3 copies not taken"),
        ([451, 451], 451, "2 of 2 copies"),
    ],
)
def test_one_answer_for_the_copies(answers, code, words):
    reply = combined([Action(c, f"{c // 100}.0.0 {'ok' if c == 250 else 'no'}") for c in answers], True)
    assert reply.code == code and words in reply.text
    assert len(reply.line()) <= 510


def test_a_recipient_named_twice_gets_one_copy(tmp_path):
    gw = Setup(tmp_path)
    try:
        with gw.client() as c:
            assert (
                c.sendmail(
                    "news@news.demo.example",
                    ["a@example.com", "a@example.com", "A@Example.com", "b@example.com"],
                    SAMPLE,
                )
                == {}
            )
        assert sorted(e["rcpt_tos"][0].lower() for e, _ in gw.sink.messages()) == [
            "a@example.com",
            "b@example.com",
        ]
    finally:
        gw.close()


def test_copies_refused_for_good_among_delivered_ones_are_reported_in_a_dsn_then_250(tmp_path):
    """An MTA in front (Postfix) must not bounce the recipients who received the message: the gateway
    accepts it, and tells the envelope sender of the refused copy in an RFC 3464 report."""
    gw = Setup(tmp_path, sink_args=("--refuse-data", "p001"))
    try:
        with gw.client() as c:
            assert c.sendmail("news@news.demo.example", people(3), SAMPLE) == {}
        delivered = [e for e, _ in gw.sink.messages() if e["mail_from"] not in ("", "<>")]
        assert sorted(e["rcpt_tos"][0] for e in delivered) == ["p000@example.com", "p002@example.com"]
        (report,) = [(e, d) for e, d in gw.sink.messages() if e["mail_from"] in ("", "<>")]
        envelope, data = report  # from the null sender, to the client's envelope sender
        assert envelope["rcpt_tos"] == ["news@news.demo.example"]
        message = email.message_from_bytes(data)
        assert message.get_content_type() == "multipart/report"
        assert message.get_param("report-type") == "delivery-status"
        assert message["Auto-Submitted"] == "auto-replied"
        parts = [p.get_content_type() for p in message.walk()]
        assert "message/delivery-status" in parts and "text/rfc822-headers" in parts
        assert b"Final-Recipient: rfc822; p001@example.com" in data and b"Action: failed" in data
        assert b"Status: 5." in data and b"Diagnostic-Code: smtp; 554" in data
        assert b"p000@example.com" not in data.split(b"message/delivery-status")[1].split(b"text/rfc822")[0]
        with gw.client() as c:  # sent again: nothing delivered twice, the refused copy reported again
            assert c.sendmail("news@news.demo.example", people(3), SAMPLE) == {}
        assert len([e for e, _ in gw.sink.messages() if e["mail_from"] not in ("", "<>")]) == 2
    finally:
        gw.close()


def test_mail_from_the_null_sender_goes_upstream_from_the_null_sender_and_gets_no_notice(tmp_path):
    """A bounce or an auto-reply (MAIL FROM:<>) keeps its null reverse-path: no return path of the
    gateway's, and no notice about the copy refused for good (RFC 5321 4.5.5)."""
    gw = Setup(
        tmp_path, smtp_extra='bounce_domain = "bounce.gw.example"', sink_args=("--refuse-data", "p001")
    )
    try:
        with gw.client() as c:
            assert c.sendmail("<>", people(3), SAMPLE) == {}
            assert c.sendmail("<>", ["solo@example.com"], SAMPLE) == {}
        copies = gw.sink.messages()
        assert sorted(e["rcpt_tos"][0] for e, _ in copies) == [
            "p000@example.com",
            "p002@example.com",
            "solo@example.com",
        ]
        assert {e["mail_from"] for e, _ in copies} <= {"", "<>"}
    finally:
        gw.close()


@pytest.mark.parametrize("count", [1, 3])
def test_a_client_that_closes_right_after_its_final_dot_leaves_nothing_stuck(tmp_path, count):
    """The message is seen through (relayed, its outcome recorded) although nobody reads the answer, and
    the client's retry is answered at once: already relayed, nothing delivered twice."""
    gw = Setup(tmp_path)
    try:
        c = gw.client()
        c.mail("news@news.demo.example")
        for person in people(count):
            assert c.rcpt(person)[0] == 250
        assert c.putcmd("data") is None and c.getreply()[0] == 354
        c.send(SAMPLE + b".\r\n")
        c.close()  # gone without the answer (the socket and its file: the FIN goes now)
        deadline = time.monotonic() + 15
        while True:
            with gw.client() as again:
                try:
                    assert again.sendmail("news@news.demo.example", people(count), SAMPLE) == {}
                    break
                except smtplib.SMTPDataError as exc:  # 451: still in flight, for a moment at most
                    assert exc.smtp_code == 451 and time.monotonic() < deadline, exc
                    time.sleep(0.2)
        assert sorted(e["rcpt_tos"][0] for e, _ in gw.sink.messages()) == people(count)
        assert {d.verdict.value for d in gw.decisions(count)} == {"relayed"}
    finally:
        gw.close()


def test_every_copy_refused_for_good_is_a_refusal(tmp_path):
    gw = Setup(tmp_path, sink_args=("--refuse-data", "p00"))
    try:
        with gw.client() as c, pytest.raises(Exception) as refused:
            c.sendmail("news@news.demo.example", people(3), SAMPLE)
        assert "554" in str(refused.value)
        assert gw.sink.messages() == []  # no copy, and no report: the client bounces it itself
    finally:
        gw.close()


def test_an_upstream_that_takes_few_recipients_per_transaction_still_gets_every_copy(tmp_path):
    gw = Setup(tmp_path, sink_args=("--max-rcpts", "2"))
    try:
        with gw.client() as c:
            assert c.sendmail("news@news.demo.example", people(5), SAMPLE) == {}
        assert sorted(e["rcpt_tos"][0] for e, _ in gw.sink.messages()) == people(5)
    finally:
        gw.close()


def test_a_long_fan_out_is_not_cut_off_by_the_idle_clock(tmp_path):
    gw = Setup(tmp_path, smtp_extra="upstream_pool_size = 1\nidle_timeout = 2", sink_args=("--delay", "0.5"))
    try:
        with gw.client() as c:
            assert c.sendmail("news@news.demo.example", people(8), SAMPLE) == {}  # 4 s of copies
        assert len(gw.sink.messages()) == 8
    finally:
        gw.close()


def test_a_clients_list_unsubscribe_is_written_again_safely(tmp_path):
    gw = Setup(tmp_path)
    try:
        theirs = (
            b"List-Unsubscribe: <https://esp.example/u?lists=1,2,3&u=abc>,\r\n"
            b" =?utf-8?q?<https://a.example/=00x=1B[31m=C3=A9>?=, <https://" + b"x" * 1500 + b".example/>\r\n"
        )
        with gw.client() as c:
            assert (
                c.sendmail(
                    "news@news.demo.example",
                    ["r@example.com"],
                    SAMPLE.replace(b"Subject:", theirs + b"Subject:", 1),
                )
                == {}
            )
        ((_, data),) = gw.sink.messages()
        head = data.split(b"\r\n\r\n", 1)[0]
        field = re.search(rb"(?m)^List-Unsubscribe:((?:[^\r]|\r\n[ \t])*)", head).group(1)
        uris = re.findall(rb"<([^>]+)>", field.replace(b"\r\n", b""))
        assert b"https://esp.example/u?lists=1,2,3&u=abc" in uris  # its commas kept inside the URI
        assert all(u.isascii() and len(u) < 1000 and b"\x00" not in u and b"\x1b" not in u for u in uris)
        assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    finally:
        gw.close()


def test_an_upstream_that_refuses_the_notice_for_good_gets_the_refusal_not_an_endless_451(tmp_path):
    gw = Setup(tmp_path, sink_args=("--refuse-data", "p001", "--refuse-rcpt", "news@news.demo.example"))
    try:
        with gw.client() as c, pytest.raises(smtplib.SMTPDataError) as refused:
            c.sendmail("news@news.demo.example", people(3), SAMPLE)
        assert (
            refused.value.smtp_code == 554
            and b"1 of 3 copies refused; 2 delivered" in refused.value.smtp_error
        )
    finally:
        gw.close()
