"""What ops see beside a refused email (gateway/mail/evidence.py): the campaign fields, the opt-out links
found and why none counted, the hidden parts and what hides them, where the postal address was looked for;
on the console's decision page and in `GET /v1/decisions/{id}`."""

from __future__ import annotations

import json
import smtplib
import urllib.request

import pytest
from servers import GatewayProcess, Sink, free_port, wait_until
from test_smtp import CONFIG, ENV, PASSWORD

OPS_KEY = "ops-console-key-0123456789"

HIDDEN_FOOTER = (
    "From: Demo Outfitters <news@news.demo.example>\r\nTo: reader@example.com\r\n"
    "Subject: Advertisement: spring jackets\r\nMessage-ID: <spring-7@news.demo.example>\r\n"
    "List-Id: Demo spring news <spring.news.demo.example>\r\nX-Campaign-ID: spring-2026-07\r\n"
    "Feedback-ID: 7:spring:demo:esp\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<html><body><p>This is an advertisement. New jackets at "
    '<a href="https://demo.example/spring">the shop</a>.</p>'
    '<p style="font-size:0">Demo Outfitters, 123 Main St, Suite 4, Springfield, IL 62701</p>'
    '<p><a href="http://localhost/unsubscribe?u=1">Unsubscribe</a></p>'
    '<div style="display:none"><a href="https://demo.example/u/2">Unsubscribe here</a></div>'
    "</body></html>\r\n"
)


@pytest.fixture
def gw(tmp_path):
    http, port, upstream = free_port(), free_port(), free_port()
    sink = Sink(tmp_path / "sink", upstream)
    config = tmp_path / "gateway.toml"
    config.write_text(
        CONFIG.format(http_port=http, tmp=tmp_path, port=port, upstream=upstream, smtp_extra="")
    )
    gateway = GatewayProcess(config, port, tmp_path, {**ENV, "GATEWAY_OPS_KEY": OPS_KEY})
    yield port, f"http://127.0.0.1:{http}"
    assert gateway.stop() == 0, gateway.output()
    sink.stop()


def get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {OPS_KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def test_a_refusal_shows_its_campaign_and_the_evidence(gw):
    port, base = gw
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.login("acme", PASSWORD)
        with pytest.raises(smtplib.SMTPDataError):
            client.sendmail("news@news.demo.example", ["reader@example.com"], HIDDEN_FOOTER.encode())
    wait_until(lambda: json.loads(get(f"{base}/v1/decisions?verdict=rejected")[1])["decisions"])
    (decision,) = json.loads(get(f"{base}/v1/decisions?verdict=rejected")[1])["decisions"]
    fields = decision["fields"]
    assert fields["From"] == "Demo Outfitters <news@news.demo.example>"
    assert fields["List-Id"] == "Demo spring news <spring.news.demo.example>"
    assert fields["X-Campaign-ID"] == "spring-2026-07" and fields["Feedback-ID"] == "7:spring:demo:esp"
    evidence = decision["evidence"]
    (link,) = evidence["links"]["opt_out"]
    assert link["url"] == "http://localhost/unsubscribe?u=1" and "localhost" in link["why_not"]
    assert evidence["links"]["hidden"] == ["Unsubscribe here"]
    hidden = {part["by"]: part["text"] for part in evidence["hidden"]}
    assert hidden["a font size near zero"].startswith("Demo Outfitters, 123 Main St")
    assert hidden["display:none"] == "Unsubscribe here"
    assert evidence["address"]["looked_for"] == "123 Main St, Suite 4, Springfield, IL 62701"
    assert "font size near zero" in evidence["address"]["found_hidden"][0]

    status, page = get(f"{base}/ops/decisions/{decision['id']}")
    assert status == 200
    for shown in (
        "spring-7@news.demo.example",
        "Demo spring news &lt;spring.news.demo.example&gt;",
        "spring-2026-07",
        "<h2>Evidence</h2>",
        "http://localhost/unsubscribe?u=1",
        "a font size near zero",
        "Looked for <q>123 Main St, Suite 4, Springfield, IL 62701</q>",
    ):
        assert shown in page, shown


def test_a_relayed_message_keeps_its_campaign_fields_but_no_evidence(gw):
    port, base = gw
    message = HIDDEN_FOOTER.replace('style="font-size:0"', "").replace(
        "http://localhost/", "https://demo.example/"
    )
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.login("acme", PASSWORD)
        client.sendmail("news@news.demo.example", ["reader@example.com"], message.encode())
    (decision,) = json.loads(get(f"{base}/v1/decisions?verdict=relayed")[1])["decisions"]
    assert decision["fields"]["X-Campaign-ID"] == "spring-2026-07" and "evidence" not in decision
