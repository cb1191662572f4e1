"""Every violation code in plain language: what it means, the law or guideline behind it, and how to fix
the message. Shown by the ops console next to each refusal."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeInfo:
    meaning: str
    law: str
    fix: str


CODES: dict[str, CodeInfo] = {
    "SUPPRESSED": CodeInfo(
        "The recipient opted out, bounced, complained, or is on a do-not-contact list for this sender.",
        "15 U.S.C. 7704(a)(4); 47 CFR 64.1200(a)(10), (d)(3); CTIA Messaging Principles 5.1.2",
        "Do not send. Remove the address from the sending list; only the recipient can opt back in.",
    ),
    "CONSENT_MISSING": CodeInfo(
        "The consent on record is below what this category needs (or it was revoked or expired).",
        "47 CFR 64.1200(a)(2)-(3) for marketing texts; the sender's own promise for email",
        "Record the recipient's consent with its evidence (gateway consent add), or send a category that needs less.",
    ),
    "CANSPAM_PHYSICAL_ADDRESS": CodeInfo(
        "Marketing mail without the sender's valid physical postal address.",
        "15 U.S.C. 7704(a)(5)(A)(iii); 16 CFR 316.2(p)",
        "Put the configured postal address (street or registered PO box) in the visible footer.",
    ),
    "CANSPAM_UNSUBSCRIBE": CodeInfo(
        "Marketing mail without a visible, working way to opt out.",
        "15 U.S.C. 7704(a)(3), (a)(5)(A)(ii)",
        "Add a visible unsubscribe link (or an instruction with a working address) to the footer.",
    ),
    "CANSPAM_AD_LABEL": CodeInfo(
        "Marketing mail not identified as an advertisement (waived where the recipient gave express consent).",
        "15 U.S.C. 7704(a)(5)(A)(i), (a)(5)(B)",
        'Say so clearly, e.g. "This email is an advertisement", in the subject or the visible text.',
    ),
    "CANSPAM_FROM_DOMAIN": CodeInfo(
        "From, Sender or Reply-To is not one of the sender's domains: a misleading header.",
        "15 U.S.C. 7704(a)(1)",
        "Send from an address at one of the sender's from_domains.",
    ),
    "CANSPAM_DECEPTIVE_SUBJECT": CodeInfo(
        "The subject pretends a reply or forward (Re:/Fwd:) with no thread, or matches a deceptive pattern.",
        "15 U.S.C. 7704(a)(2)",
        "Write a subject that says what the message is about.",
    ),
    "CANSPAM_EXPLICIT_LABEL": CodeInfo(
        "Sexually explicit mail without the required subject prefix.",
        "15 U.S.C. 7704(d); 16 CFR 316.4",
        'Begin the subject with "SEXUALLY-EXPLICIT: ".',
    ),
    "LIST_UNSUBSCRIBE_HEADER": CodeInfo(
        "Bulk marketing mail without List-Unsubscribe and List-Unsubscribe-Post, with the gateway set not to add them.",
        "RFC 8058, RFC 2369; Gmail and Yahoo bulk-sender requirements",
        "Add both headers (an https one-click URL), or let the gateway add them (smtp.add_list_unsubscribe).",
    ),
    "CATEGORY_NOT_ALLOWED": CodeInfo(
        "The sender may not send this category at all.",
        "The sender's own promise (e.g. operational texts only)",
        "Send it from a sender allowed this category, or do not send it.",
    ),
    "QUIET_HOURS": CodeInfo(
        "A marketing text outside the allowed hours in the recipient's local time.",
        "47 CFR 64.1200(c)(1); state laws (FL, OK, MD, WA, TX)",
        "Send it inside the window, or set defer_quiet_hours to have the gateway hold it until then.",
    ),
    "FREQUENCY_CAP": CodeInfo(
        "More marketing texts to this number in the window than policy or state law allows.",
        "Fla. Stat. 501.059(8)(b); Okla. Stat. tit. 15 775C.4; Md. Com. Law 14-4503; policy",
        "Wait until the window has room, or send fewer texts to this number.",
    ),
    "SMS_OPT_OUT_NOTICE": CodeInfo(
        "A marketing text without opt-out instructions.",
        "47 CFR 64.1200(b)(3), (a)(12); CTIA Messaging Principles 5.1.2",
        'Add "Reply STOP to opt out".',
    ),
    "SMS_SENDER_ID": CodeInfo(
        "The text does not name the brand sending it.",
        "47 CFR 64.1200(b)(1); CTIA Messaging Principles 5.1.1",
        'Name the brand in words at the start, e.g. "Acme: ...".',
    ),
    "SMS_CONTENT": CodeInfo(
        "A public URL shortener or a banned term in the text.",
        "CTIA Messaging Principles 5.3; carrier codes of conduct",
        "Use a branded link domain; remove the banned term.",
    ),
    "INVALID_RECIPIENT": CodeInfo(
        "Not a valid email address or strict E.164 phone number.",
        "RFC 5321; ITU-T E.164",
        "Correct the address or number (E.164: +15551234567).",
    ),
}


def explain(code: str) -> CodeInfo:
    return CODES.get(code, CodeInfo("A rule of the gateway refused the message.", "", ""))
