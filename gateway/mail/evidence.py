"""What ops see beside an email decision (the console's decision page, `GET /v1/decisions/{id}`): the
fields that tell which campaign it belongs to, and for a refusal on its content the evidence a person
needs to find the line to change: the opt-out links found and why none counted, the parts a reader does
not see and what hides them, and where the postal address was looked for.

Kept in the decision's `detail` (JSON, bounded); computed from the message only when it is refused or
monitored on its content, so a message that passes costs nothing more. Erasure drops the evidence (it
quotes the message's text, which may name the person).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..content.html import hidden_parts
from ..content.mime import html_documents
from ..content.scan import lower
from ..model import EmailContent, Violation
from ..policy.codes import CANSPAM_AD_LABEL, CANSPAM_PHYSICAL_ADDRESS, CANSPAM_UNSUBSCRIBE
from ..policy.email import opt_out_links
from ..policy.settings import Policy, SenderSettings

_ON_CONTENT = frozenset(c.name for c in (CANSPAM_UNSUBSCRIBE, CANSPAM_PHYSICAL_ADDRESS, CANSPAM_AD_LABEL))
_MAX_ITEMS = 10


def evidence(
    content: EmailContent, raw: bytes, found: Sequence[Violation], sender: SenderSettings, policy: Policy
) -> dict:
    """The evidence of the content violations in `found` ({} when there are none)."""
    codes = {v.code for v in found}
    if not codes & _ON_CONTENT:
        return {}
    out: dict = {}
    hidden = [hp for doc in html_documents(raw) for hp in hidden_parts(doc)][:_MAX_ITEMS]
    if hidden:
        out["hidden"] = [{"by": by, "text": text} for by, text in hidden]
    if CANSPAM_UNSUBSCRIBE.name in codes:
        links = opt_out_links(content, policy)[:_MAX_ITEMS]
        out["links"] = {
            "visible": len(content.links),
            "opt_out": [
                {"text": link.text[:120], "url": link.url[:300], "why_not": why or "it counts"}
                for link, why in links
            ],
            "hidden": [h["text"] for h in out.get("hidden", ()) if "unsub" in h["text"].lower()][:_MAX_ITEMS],
        }
    if CANSPAM_PHYSICAL_ADDRESS.name in codes:
        pattern = sender.address_pattern
        out["address"] = {
            "looked_for": sender.physical_address or "any US street or PO Box address with its state and ZIP",
            "looked_in": f"the visible text of the message ({len(content.visible_text):,} characters)",
            "found_hidden": [
                f"{h['text']} ({h['by']})"
                for h in out.get("hidden", ())
                if pattern is not None and pattern.search(lower(h["text"]))
            ],
        }
    return out


def detail(
    content: EmailContent,
    raw: bytes,
    found: Sequence[Violation],
    sender: SenderSettings,
    policy: Policy,
    *,
    explain: bool,
) -> str:
    """The decision's `detail`: the campaign fields, and with `explain` the evidence."""
    out: dict = {"fields": dict(content.campaign)} if content.campaign else {}
    if explain and (found_evidence := evidence(content, raw, found, sender, policy)):
        out["evidence"] = found_evidence
    return json.dumps(out, ensure_ascii=False) if out else ""
