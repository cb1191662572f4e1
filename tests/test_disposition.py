"""One disposition for both channels (gateway/policy/disposition.py): in monitor mode the same violation
gets the same fate on the SMTP door and on the SMS API — relayed and recorded as monitored, or refused when
nothing can be delivered (INVALID_RECIPIENT) or the configuration says so (`gateway.monitor_refuses`)."""

from __future__ import annotations

import asyncio
import json
import smtplib
import urllib.error
import urllib.request

import pytest
from helpers import ACME_SENDER, REPO, run_cli
from servers import GatewayProcess, free_port, wait_until

from gateway.store.sqlite import SqliteStore

SAMPLE = (REPO / "config" / "samples" / "newsletter.eml").read_bytes().replace(b"\n", b"\r\n")
ENV = {
    "ACME_SMTP_PASSWORD": "acme-smtp-secret-1",
    "ACME_API_KEY": "acme-api-key-0123456789",
    "GATEWAY_TOKEN_SECRET": "test-token-secret-0123456789",
}
CONFIG = (
    """
[gateway]
mode = "monitor"
monitor_refuses = {refuses}
database = "sqlite:///{tmp}/gateway.db"
state_dir = "{tmp}/state"
public_url = "https://gw.example"

[smtp]
listen = "127.0.0.1:{smtp}"
upstream = "maildir:{tmp}/outbox"

[http]
listen = "127.0.0.1:{http}"

"""
    + ACME_SENDER
    + """api_key_env = "ACME_API_KEY"
sms_from = ["+15005550006"]
"""
)
READER, NUMBER = "reader@example.com", "+12125550123"
TEXT = "Demo Outfitters: 20% off all jackets today. Reply STOP to opt out."


class Doors:
    def __init__(self, tmp, refuses: list[str]) -> None:
        self.tmp, self.smtp, self.http = tmp, free_port(), free_port()
        self.config = tmp / "gateway.toml"
        self.config.write_text(
            CONFIG.format(tmp=tmp, smtp=self.smtp, http=self.http, refuses=json.dumps(refuses))
        )
        for args in (
            ("suppress", "add", READER, "--channel", "email", "--sender", "acme", "--reason", "unsubscribe"),
            ("suppress", "add", NUMBER, "--channel", "sms", "--sender", "acme", "--reason", "stop"),
            ("consent", "add", NUMBER, "--channel", "sms", "--sender", "acme", "--level", "express_written"),
        ):
            code, _, err = run_cli(*args, "--config", str(self.config))
            assert code == 0, err
        self.gateway = GatewayProcess(self.config, self.http, tmp, ENV)

    def mail(self, to: str) -> str:
        """ "relayed" or "refused", as the SMTP client sees it."""
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as client:
            client.login("acme", ENV["ACME_SMTP_PASSWORD"])
            try:
                client.sendmail(
                    "news@news.demo.example", [to], SAMPLE.replace(b"reader@example.com", to.encode())
                )
            except smtplib.SMTPRecipientsRefused as exc:
                assert exc.recipients[to][0] == 550, exc.recipients
                return "refused"
        return "relayed"

    def text(self, to: str) -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http}/v1/sms",
            data=json.dumps({"to": to, "body": TEXT}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {ENV['ACME_API_KEY']}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 201
                return "relayed"
        except urllib.error.HTTPError as error:
            assert error.code == 422, error.read()
            return "refused"

    def verdicts(self, count: int) -> dict[tuple[str, str], str]:
        def read():
            store = SqliteStore(str(self.tmp / "gateway.db"))
            try:
                return asyncio.run(store.decisions(100))
            finally:
                asyncio.run(store.close())

        wait_until(lambda: len(read()) >= count)
        return {(d.channel.value, d.recipient): d.verdict.value for d in read()}


@pytest.mark.parametrize(
    ("refuses", "suppressed_fate"),
    [([], "relayed"), (["SUPPRESSED"], "refused")],
)
def test_a_violation_gets_one_fate_in_monitor_mode_on_either_door(tmp_path, refuses, suppressed_fate):
    doors = Doors(tmp_path, refuses)
    try:
        assert doors.mail(READER) == doors.text(NUMBER) == suppressed_fate
        assert doors.mail("reader@localhost") == doors.text("+1555") == "refused"  # INVALID_RECIPIENT
        verdict = "monitored" if suppressed_fate == "relayed" else "rejected"
        assert doors.verdicts(4) == {
            ("email", READER): verdict,
            ("sms", NUMBER): verdict,
            ("email", "reader@localhost"): "rejected",
            ("sms", "+1555"): "rejected",
        }
        relayed = list((tmp_path / "outbox" / "new").glob("*"))
        assert len(relayed) == (1 if suppressed_fate == "relayed" else 0)
        if relayed:
            assert b"X-Compliance-Violations: SUPPRESSED\r\n" in relayed[0].read_bytes()
    finally:
        assert doors.gateway.stop() == 0, doors.gateway.output()
