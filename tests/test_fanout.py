"""Marketing mail to several recipients in one transaction (gateway/mail/fanout.py), on real sockets: every
recipient taken, the upstream's refusals passed on at RCPT, one copy per recipient with its own link and
return path, one answer at the end, and retries that send nothing twice."""

from __future__ import annotations

import re

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
