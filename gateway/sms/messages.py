"""Twilio's Message resource for the texts in the decision log, so that `client.messages(sid).fetch()` and
`client.messages.list()` work against the gateway as they do against Twilio.

A text the gateway sent or holds has a sid its client was given: the provider's message sid, or for a held
text one of the gateway's own (`held_sid`), kept when the text goes later. Its decision stores that sid
(`message_id`), its From number (`origin`) and, as JSON (`detail`), what the resource tells beyond the
decision's columns: the body, the number of media, the messaging service, the provider's status when it
took the text, when the client asked. Statuses the provider reports later, through its status callbacks,
are kept by the provider's sid and never taken back by one that arrives late (`RANK`).
"""

from __future__ import annotations

import json
from datetime import datetime

from ..model import Verdict
from ..store.base import Fields, TextRecord, field_text, from_text, to_text
from .providers import message_json, rfc2822

# Twilio's MessageStatus values (api.v2010.account.message's `status` enum), in the order a message goes
# through them: a callback never takes a text back to an earlier one (Twilio does not promise that
# callbacks arrive in order). The final ones share a rank, so a correction among them is kept.
RANK = {
    "scheduled": 0,
    "accepted": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "partially_delivered": 4,
    "read": 5,
}
_SENT = frozenset(("sent", "delivered", "undelivered", "read", "partially_delivered"))


def held_sid(decision_id: str) -> str:
    """A Twilio-shaped sid for a text the gateway holds (its decision id, zero-padded)."""
    return "SM" + decision_id.rjust(32, "0")[-32:]


def detail(
    fields: Fields,
    status: str,
    created: datetime,
    error_code: int | None = None,
    error_message: str | None = None,
) -> str:
    """The JSON a text's decision keeps for its Message resource."""
    media = fields.get("MediaUrl")
    found = {
        "body": field_text(fields, "Body") or "",
        "media": len(media) if isinstance(media, list) else int(bool(media)),
        "service": field_text(fields, "MessagingServiceSid"),
        "status": status,
        "created": to_text(created),
        "error_code": error_code,
        "error_message": error_message,
    }
    return json.dumps({k: v for k, v in found.items() if v is not None}, ensure_ascii=False)


def _detail(text: str) -> dict:
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _time(text: object) -> datetime | None:
    try:
        return from_text(text) if isinstance(text, str) else None
    except ValueError:
        return None


def status(record: TextRecord) -> str:
    """What Twilio would report for this text now."""
    d = record.decision
    if d.verdict is Verdict.DEFERRED:
        return "scheduled"
    if d.verdict is Verdict.REJECTED:  # a held text refused when its time came: never sent
        return "canceled"
    if d.verdict is Verdict.FAILED:
        return "failed"
    return record.status or str(_detail(d.detail).get("status") or "sent")


def message_resource(record: TextRecord, account_sid: str) -> dict:
    """Twilio's Message JSON (API 2010-04-01) for a text in the log."""
    d = record.decision
    found = _detail(d.detail)
    erased = d.recipient.startswith("sha256:")
    fields: Fields = {"To": "" if erased else d.recipient, "Body": str(found.get("body") or "")}
    if d.origin:
        fields["From"] = d.origin
    if found.get("service"):
        fields["MessagingServiceSid"] = str(found["service"])
    now = status(record)
    created = _time(found.get("created")) or d.at
    message = message_json(
        sid=d.message_id,
        account_sid=account_sid,
        fields=fields,
        status=now,
        created=created,
        sent=d.at if now in _SENT else None,
    )
    updated = max(t for t in (created, d.at, record.status_at) if t is not None)
    message["date_updated"] = rfc2822(updated)
    message["num_media"] = str(int(found.get("media") or 0))
    error = record.error_code if record.status else found.get("error_code")
    message["error_code"] = error if isinstance(error, int) else None
    if d.verdict in (Verdict.REJECTED, Verdict.FAILED):
        message["error_message"] = (
            " ".join(v.code for v in d.violations)
            if d.verdict is Verdict.REJECTED
            else found.get("error_message")
        ) or None
    return message
