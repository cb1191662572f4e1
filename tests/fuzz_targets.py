"""One fuzz target: a message's bytes through everything the gateway does to them before they go upstream,
with what must hold. tests/test_fuzz_pipeline.py runs it under hypothesis (bounded, in every test run);
scripts/fuzz.py runs it under atheris (coverage-guided, as long as you like).

What must hold, for any bytes:
- `parse_email` returns a reading or raises `Unparseable` (a clear refusal), nothing else;
- the rules return a verdict on what it returned;
- the message as relayed (line ends made CRLF, the gateway's headers added, internal ones stripped)
  has only CRLF line ends and its header block still ends where the original's did;
- dot-stuffed for DATA, nothing before its very end can end DATA, and unstuffing gives it back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gateway import config as config_module
from gateway.content.mime import Unparseable, parse_email
from gateway.mail import lineends
from gateway.mail.outgoing import received, rewrite
from gateway.model import RecipientFacts
from gateway.pipeline import Pipeline
from gateway.smtp import dots
from gateway.smtp.relay import dot_stuffed

REPO = Path(__file__).resolve().parent.parent
AT = datetime(2026, 5, 5, 16, 0, tzinfo=UTC)
RECIPIENTS = ["reader@example.com"]
_PIPELINE: Pipeline | None = None


def _pipeline() -> Pipeline:
    global _PIPELINE
    if _PIPELINE is None:
        config = config_module.load(str(REPO / "config" / "gateway.toml"))
        _PIPELINE = Pipeline(config, None)  # type: ignore[arg-type]  # judging reads no store
    return _PIPELINE


def through_the_gateway(data: bytes) -> None:
    raw = lineends.crlf(data)  # as smtp.bare_newlines = "normalize" hands it on
    try:
        content = parse_email(raw)
    except Unparseable:
        return
    facts = {r: RecipientFacts(r) for r in RECIPIENTS}
    evaluation = _pipeline().judge_email("demo", content, RECIPIENTS, facts, AT).evaluation
    assert isinstance(evaluation.violations, tuple)
    field = received(
        helo=data[:40].decode("utf-8", "replace"),
        peer="127.0.0.1",
        tls=False,
        authenticated=True,
        by="gw.example",
        message_id="x",
        recipients=RECIPIENTS,
        now=AT,
    )
    relayed = rewrite(raw, [("Received", field), ("List-Unsubscribe", "<mailto:u@gw.example>")])
    assert not lineends.has_bare(relayed), "a bare CR or LF in what goes upstream"
    assert relayed.startswith(b"Received: from ")
    stuffed = b"\r\n" + dot_stuffed(relayed)
    end = stuffed.find(b"\r\n.\r\n")
    assert end == -1, f"DATA would end early, at {end} of {len(stuffed)}"
    back = dots.unstuff(stuffed)[2:]
    if back.startswith(b".."):
        back = back[1:]
    assert back == (relayed if relayed.endswith(b"\r\n") else relayed + b"\r\n"), "stuffing is not undone"
