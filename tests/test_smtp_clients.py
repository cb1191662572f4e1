"""What real mailers and MTAs send that the gateway must take (issue 21): `AUTH=` on MAIL FROM (RFC 4954 5,
sent by Postfix with smtp_send_dummy_mail_auth, curl --mail-auth, Exim relaying authenticated mail)."""

from __future__ import annotations

import base64
import re
import smtplib

import pytest
from helpers import MAIL_GATEWAY, REPO
from servers import GatewayProcess, Sink, free_port

PASSWORD = "clients-smtp-secret-1"
SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes().replace(b"\n", b"\r\n")


@pytest.fixture
def gw(tmp_path):
    smtp, http, upstream = free_port(), free_port(), free_port()
    sink = Sink(tmp_path / "sink", upstream)
    config = tmp_path / "gateway.toml"
    config.write_text(
        MAIL_GATEWAY.format(tmp=tmp_path, smtp=smtp, http=http, upstream=f"smtp://127.0.0.1:{upstream}")
    )
    gateway = GatewayProcess(config, http, tmp_path, {"ACME_SMTP_PASSWORD": PASSWORD})
    yield smtp, sink
    sink.stop()
    assert gateway.stop() == 0, gateway.output()


@pytest.mark.parametrize(
    "param, upstream",
    [
        ("AUTH=<>", "AUTH=<>"),
        ("AUTH=news+40news.demo.example", "AUTH=news+40news.demo.example"),  # logged in: passed on as written
        ("auth=news+40news.demo.example", "AUTH=news+40news.demo.example"),
        ("AUTH=ceo+40bank.example", "AUTH=<>"),  # not one of the sender's domains: not vouched for
    ],
)
def test_auth_on_mail_from_is_taken_and_passed_to_an_upstream_that_offers_auth(gw, param, upstream):
    smtp, sink = gw
    with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
        client.login("acme", PASSWORD)
        answer = client.mail("news@news.demo.example", [param, "BODY=8BITMIME"])
        assert answer[0] == 250, answer
        assert client.rcpt("reader@example.com")[0] == 250
        assert client.data(SAMPLE)[0] == 250
    ((envelope, _),) = sink.messages()
    assert envelope["mail_from"] == "news@news.demo.example"
    assert [o for o in envelope["mail_options"] if o.upper().startswith("AUTH=")] == [upstream]


def test_a_malformed_auth_parameter_is_a_syntax_error(gw):
    smtp, _ = gw
    with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
        client.login("acme", PASSWORD)
        assert client.mail("news@news.demo.example", ["AUTH="])[0] == 501
        assert client.mail("news@news.demo.example", ["AUTH=a=b"])[0] == 501
        assert client.mail("news@news.demo.example", ["AUTH=<>"])[0] == 250


def test_an_auth_look_alike_inside_a_quoted_local_part_is_part_of_the_address(gw):
    smtp, sink = gw
    sender = '"x> AUTH=<>"@news.demo.example'
    with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
        client.login("acme", PASSWORD)
        client.send(f"MAIL FROM:<{sender}>\r\n".encode())
        assert client.getreply()[0] == 250
        assert client.rcpt("reader@example.com")[0] == 250
        assert client.data(SAMPLE)[0] == 250
    ((envelope, _),) = sink.messages()
    assert envelope["mail_from"] == sender and not any(
        o.upper().startswith("AUTH=") for o in envelope["mail_options"]
    )


def test_a_quote_that_opens_no_quoted_local_part_hides_no_parameter(gw):
    """`<a"b@x> AUTH=... X="y>`: the path ends at its first ">", and what is left is no mailbox."""
    smtp, sink = gw
    with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
        client.login("acme", PASSWORD)
        client.send(b'MAIL FROM:<a"b@news.demo.example> AUTH=ceo@bank.example X="y>\r\n')
        code, _ = client.getreply()
        assert code in (501, 553, 555), code
        assert client.mail("news@news.demo.example")[0] == 250  # the session goes on
    assert sink.messages() == []


def test_a_utf8_address_needs_smtputf8_on_mail_from(gw):
    smtp, _ = gw

    def command(client: smtplib.SMTP, line: str) -> int:
        client.send(line.encode("utf-8") + b"\r\n")  # smtplib itself writes ASCII only
        return client.getreply()[0]

    with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
        client.login("acme", PASSWORD)
        assert client.mail("news@news.demo.example")[0] == 250
        assert command(client, "RCPT TO:<jürgen@example.com>") == 553
        client.rset()
        assert command(client, "MAIL FROM:<nëws@news.demo.example>") == 553
        assert command(client, "MAIL FROM:<news@news.demo.example> SMTPUTF8") == 250
        assert command(client, "RCPT TO:<jürgen@example.com>") == 250


def test_an_http_public_url_beyond_loopback_is_warned_about_at_start(tmp_path):
    smtp, http, upstream = free_port(), free_port(), free_port()
    config = tmp_path / "gateway.toml"
    text = MAIL_GATEWAY.format(tmp=tmp_path, smtp=smtp, http=http, upstream=f"smtp://127.0.0.1:{upstream}")
    config.write_text(
        text.replace(f'public_url = "http://127.0.0.1:{http}"', 'public_url = "http://gw.example"')
    )
    gateway = GatewayProcess(config, http, tmp_path, {"ACME_SMTP_PASSWORD": PASSWORD})
    assert gateway.stop() == 0
    assert "gateway.public_url http://gw.example is http" in gateway.output()


def test_a_refusal_quoting_a_long_subject_fits_in_one_reply_line(gw):
    import socket

    smtp, _ = gw
    subject = "Re: " + "an offer you will like " * 60  # CANSPAM_DECEPTIVE_SUBJECT quotes it
    message = SAMPLE.replace(b"Subject:", f"Subject: {subject}\r\nX-Old-Subject:".encode(), 1)
    with socket.create_connection(("127.0.0.1", smtp), timeout=30) as s:
        f = s.makefile("rb")
        f.readline()

        def say(line: bytes) -> list[bytes]:
            s.sendall(line + b"\r\n")
            lines = [f.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(f.readline())
            return lines

        say(b"EHLO client.example")
        say(b"AUTH PLAIN " + base64.b64encode(b"\0acme\0" + PASSWORD.encode()))
        say(b"MAIL FROM:<news@news.demo.example>")
        say(b"RCPT TO:<reader@example.com>")
        assert say(b"DATA")[0].startswith(b"354")
        s.sendall(message.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        answer = [f.readline()]
        while answer[-1][3:4] == b"-":
            answer.append(f.readline())
    assert answer[0].startswith(b"550") and all(len(line) <= 512 for line in answer), [len(x) for x in answer]


def relayed_with(gw, extra: bytes) -> bytes:
    smtp, sink = gw
    message = SAMPLE.replace(b"Subject:", extra + b"Subject:", 1)
    with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
        client.login("acme", PASSWORD)
        assert client.sendmail("news@news.demo.example", ["reader@example.com"], message) == {}
    return sink.messages()[-1][1].split(b"\r\n\r\n", 1)[0]


def fields(head: bytes, name: bytes) -> list[bytes]:
    unfolded = head.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    return [
        line.split(b":", 1)[1].strip()
        for line in unfolded.split(b"\r\n")
        if line.lower().startswith(name + b":")
    ]


@pytest.mark.parametrize(
    "theirs, kept",
    [
        (
            b"List-Unsubscribe: <mailto:leave@news.demo.example?subject=leave>\r\n",
            [b"mailto:leave@news.demo.example?subject=leave"],
        ),
        (b"List-Unsubscribe: <http://news.demo.example/u/1>\r\n", [b"http://news.demo.example/u/1"]),
        (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", []),
        (
            b"List-Unsubscribe: <https://news.demo.example/u/2>,\r\n <mailto:leave@news.demo.example>\r\n"
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            [b"https://news.demo.example/u/2", b"mailto:leave@news.demo.example"],
        ),
        (  # RFC 5322 4.5.3's obsolete blanks before the colon: the same fields, read and replaced
            b"List-Unsubscribe-Post : List-Unsubscribe=One-Click\r\n"
            b"List-Unsubscribe\t: <https://news.demo.example/u/4>\r\n",
            [b"https://news.demo.example/u/4"],
        ),
        (  # one field per URI, as nodemailer writes several: each counts and is kept
            b"List-Unsubscribe: <mailto:leave@news.demo.example>\r\n"
            b"List-Unsubscribe: <https://news.demo.example/u/3>\r\n",
            [b"mailto:leave@news.demo.example", b"https://news.demo.example/u/3"],
        ),
    ],
)
def test_a_clients_own_list_unsubscribe_is_completed_with_the_gateways_first(gw, theirs, kept):
    head = relayed_with(gw, theirs)
    (field,) = fields(head, b"list-unsubscribe")
    uris = re.findall(rb"<([^>]+)>", field)
    assert (
        b"/unsubscribe/" in uris[0] and uris[1].startswith(b"mailto:unsubscribe+acme@") and uris[2:] == kept
    )
    assert fields(head, b"list-unsubscribe-post") == [b"List-Unsubscribe=One-Click"]  # never two


def test_with_repair_off_an_incomplete_list_unsubscribe_is_refused(tmp_path):
    smtp, http, upstream = free_port(), free_port(), free_port()
    sink = Sink(tmp_path / "sink", upstream)
    config = tmp_path / "gateway.toml"
    text = MAIL_GATEWAY.format(tmp=tmp_path, smtp=smtp, http=http, upstream=f"smtp://127.0.0.1:{upstream}")
    config.write_text(text.replace("[http]", "repair_list_unsubscribe = false\n\n[http]", 1))
    gateway = GatewayProcess(config, http, tmp_path, {"ACME_SMTP_PASSWORD": PASSWORD})
    try:
        incomplete = SAMPLE.replace(
            b"Subject:", b"List-Unsubscribe: <mailto:leave@news.demo.example>\r\nSubject:", 1
        )
        with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
            client.login("acme", PASSWORD)
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("news@news.demo.example", ["reader@example.com"], incomplete)
            assert refused.value.smtp_code == 550 and b"LIST_UNSUBSCRIBE_HEADER" in refused.value.smtp_error
            assert (
                client.sendmail("news@news.demo.example", ["reader@example.com"], SAMPLE) == {}
            )  # none: added
        ((_, data),) = sink.messages()
        assert b"/unsubscribe/" in data.split(b"\r\n\r\n", 1)[0]
    finally:
        sink.stop()
        assert gateway.stop() == 0


def test_an_obsolete_field_name_is_read_by_the_rules_and_relayed_as_receivers_read_it(gw):
    """`Name :` (RFC 5322 4.5.3): the rules read the fields after it, as receivers do (a Subject after it
    is judged), and it is relayed as `Name:`."""
    head = relayed_with(gw, b"X-Campaign : spring\r\n")
    assert b"\r\nX-Campaign: spring\r\n" in head and b"\r\nSubject:" in head
    smtp, _ = gw
    deceptive = SAMPLE.replace(b"Subject:", b"X-Campaign : spring\r\nSubject: Re: your order\r\nX-Was:", 1)
    with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
        client.login("acme", PASSWORD)
        with pytest.raises(smtplib.SMTPDataError) as refused:  # the Subject after it was read
            client.sendmail("news@news.demo.example", ["reader@example.com"], deceptive)
    assert refused.value.smtp_code == 550
