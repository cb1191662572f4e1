"""CAN-SPAM rules for one email message, read top to bottom.

Each rule is `rule(check)`, marked with the code it enforces (codes.py, where its law is cited) and
returning why the message fails it, or None. A rule looks only at what a reader of the message sees
(`EmailContent`), the sender's settings, the policy and the recipients' facts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from ..model import Category, ConsentLevel, EmailContent, Link, RecipientFacts, Violation
from . import postal
from .codes import (
    CANSPAM_AD_LABEL,
    CANSPAM_DECEPTIVE_SUBJECT,
    CANSPAM_EXPLICIT_LABEL,
    CANSPAM_FROM_DOMAIN,
    CANSPAM_PHYSICAL_ADDRESS,
    CANSPAM_UNSUBSCRIBE,
    CATEGORY_NOT_ALLOWED,
    LIST_UNSUBSCRIBE_HEADER,
    enforces,
)
from .links import host_problem, url_problem
from .misleading import labels, named_domains, poses_as_transaction
from .optout_terms import forbidden_term, replies_reach, reply_instruction, sentences_around
from .purpose import advertises
from .settings import Policy, SenderSettings
from .textsearch import AnchoredPattern


@dataclass(frozen=True, slots=True)
class EmailCheck:
    content: EmailContent
    category: Category  # after the primary-purpose test
    sender: SenderSettings
    policy: Policy
    recipients: tuple[RecipientFacts, ...]
    at: datetime
    why: str = ""  # why the category differs from the sender's (purpose.py)


@enforces(CATEGORY_NOT_ALLOWED)
def category_not_allowed(c: EmailCheck) -> str | None:
    """The sender may send this category of mail (its category after the primary-purpose test)."""
    if c.category in c.sender.allowed_categories:
        return None
    why = f" ({c.why})" if c.why else ""
    return f"sender {c.sender.name} may not send {c.category.value} mail{why}"


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(">").lower()


@enforces(CANSPAM_FROM_DOMAIN)
def from_domain(c: EmailCheck) -> str | None:
    """From, Sender and Reply-To name the sender's own domains, and From's display name shows no other
    domain ("Amazon.com" <news@elsewhere>): header information may not be materially false or misleading.
    Applies to every category, transactional mail too."""
    if not c.content.from_addresses:
        return "the message has no From address"
    if not c.sender.from_domains:
        return f"sender {c.sender.name} has no from_domains configured"
    headers = [("From", a) for a in c.content.from_addresses] + [("Reply-To", a) for a in c.content.reply_to]
    if c.content.sender_address:
        headers.append(("Sender", c.content.sender_address))
    allowed = ", ".join(c.sender.from_domains)
    for name, address in headers:
        if not c.sender.owns_domain(_domain(address)):
            return f"{name} <{address}> is not in the sender's domains ({allowed})"
    shown = next((value for name, value in c.content.campaign if name == "From"), "")
    for domain in named_domains(shown) if "." in shown.partition("<")[0] else ():
        if not c.sender.owns_domain(domain):
            return f"From's display name names {domain}, which is not one of the sender's domains ({allowed})"
    return None


_REPLY_PREFIX = re.compile(r"^\s*(?:re|fwd?|aw|wg|sv|vs|tr|rv|enc)\s*(?:\[\d+\]|\(\d+\))?\s*:", re.IGNORECASE)


@enforces(CANSPAM_DECEPTIVE_SUBJECT)
def deceptive_subject(c: EmailCheck) -> str | None:
    """No marketing subject likely to mislead about the contents: a fake reply or forward with no thread
    behind it, a subject that announces an order, delivery, account or payment event (misleading.py),
    or one of the configured deceptive patterns."""
    if c.category is not Category.MARKETING:
        return None
    subject = c.content.subject
    if _REPLY_PREFIX.match(subject) and not (c.content.in_reply_to or c.content.references):
        return (
            f"subject {subject!r} poses as a reply or forward but the message has no "
            "In-Reply-To or References header"
        )
    # on an ad only: a receipt a marketing stream sends (judged as marketing all the same) may say "Your
    # order has shipped" truthfully; c.why: a notice with an ad in it, whose subject is the notice's
    posing = None if c.why else poses_as_transaction(subject)
    if posing and not advertises(c.content.folded_text):
        posing = None
    if posing:
        return f"subject {subject!r} {posing}, in an advertisement"
    for pattern in c.policy.deceptive_res:
        if pattern.search(subject):
            return f"subject {subject!r} matches the deceptive pattern {pattern.pattern!r}"
    return None


EXPLICIT_PREFIX = "SEXUALLY-EXPLICIT: "


@enforces(CANSPAM_EXPLICIT_LABEL)
def explicit_label(c: EmailCheck) -> str | None:
    """Sexually oriented mail (the sender's, or declared by X-Gateway-Sexually-Explicit) begins its subject
    with "SEXUALLY-EXPLICIT: "."""
    if not (c.sender.sexually_explicit or c.content.declared_explicit):
        return None
    if c.content.subject.startswith(EXPLICIT_PREFIX):
        return None
    return f'subject must begin with "{EXPLICIT_PREFIX}"'


@enforces(CANSPAM_PHYSICAL_ADDRESS)
def physical_address(c: EmailCheck) -> str | None:
    """Marketing mail shows the sender's configured postal address in its visible text (any US street or
    PO Box address with state and ZIP, or a Canadian one with province and postal code, for a sender that
    configures none)."""
    if c.category is not Category.MARKETING:
        return None
    if c.sender.address_pattern is not None:
        if c.sender.address_pattern.search(c.content.folded_text):
            return None
        return f"the sender's postal address ({c.sender.physical_address}) is not in the visible text"
    if postal.find_any_address(c.content.visible_text):
        return None
    return "no postal address in the visible text"


_OPT_OUT_WORDS = AnchoredPattern.of(
    r"un-?\s?subscrib|opt(?:-|\s)?out|(?:manage|update|change|edit|set)\s+(?:your\s+|my\s+)?"
    r"(?:(?:e-?mail|subscription|communication|mailing|notification)\s+)?preferences"
    r"|(?:e-?mail|subscription|communication|mailing)\s+preferences|cancel\s+(?:your\s+|my\s+|the\s+)?subscription"
    r"|stop\s+receiving|remove\s+(?:me|yourself)\s+from",
    anchors=("subscri", "opt", "preferences", "cancel", "receiving", "remove"),
    reach=60,
)
_OPT_OUT_URL = re.compile(
    r"unsub|opt[-_]?out|preferences|prefs|cancel[-_]?subscription|manage[-_]?subscription", re.IGNORECASE
)
_TEMPLATE_MARKERS = ("{{", "}}", "{%", "*|", "|*", "%%", "[[", "<%", "${")
_WORKING_URL = re.compile(
    r"https?://[^\s/?#@]*[a-z0-9](?:\.[a-z0-9-]+)+(?::\d+)?(?:[/?#]\S*)?$", re.IGNORECASE
)
_MAILTO = re.compile(r"mailto:[^@\s]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:\?\S*)?$", re.IGNORECASE)
_LITERAL_CONTACT = re.compile(
    r"https?://\S+\.\S+|\bwww\.\S+\.\S+|[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE
)


def why_not_working(link: Link, policy: Policy) -> str | None:
    """Why a link cannot serve as an opt-out mechanism, or None when it can (the console's evidence)."""
    url = link.url
    if not url:
        return "it has no address"
    if any(m in url for m in _TEMPLATE_MARKERS):
        return "its address is an unfilled template"
    if _MAILTO.match(url):
        domain = url.split("?", 1)[0].rpartition("@")[2]
        return host_problem(domain, allow_examples=policy.allow_example_domains)
    if not url.lower().startswith(("http://", "https://", "mailto:")):
        return "it is neither a web link nor a mailto"
    problem = url_problem(url, allow_examples=policy.allow_example_domains)
    if problem is None and not _WORKING_URL.match(url):
        return "its address is not a well-formed link"
    return problem


def opt_out_links(content: EmailContent, policy: Policy) -> list[tuple[Link, str | None]]:
    """The visible links that say or point at an opt-out, each with why it cannot work (None: it can)."""
    return [
        (link, why_not_working(link, policy))
        for link in content.links
        if link.text and (_OPT_OUT_URL.search(link.url) or _OPT_OUT_WORDS.search(link.text.lower()))
    ]


def working(link: Link, policy: Policy) -> bool:
    """A link a reader can actually use: http(s) to a host on the public internet, or mailto to an address
    at one (links.py); no unfilled template."""
    url = link.url
    if not url or any(m in url for m in _TEMPLATE_MARKERS):
        return False
    return _works(url, policy)


def _works(url: str, policy: Policy) -> bool:
    if _MAILTO.match(url):
        domain = url.split("?", 1)[0].rpartition("@")[2]
        return host_problem(domain, allow_examples=policy.allow_example_domains) is None
    return (
        bool(_WORKING_URL.match(url))
        and url_problem(url, allow_examples=policy.allow_example_domains) is None
    )


def _instruction_lines(text: str, at: int, end: int) -> str:
    """The line holding an opt-out instruction and the line after it (where its address often stands)."""
    start = text.rfind("\n", 0, at) + 1
    stop = text.find("\n", end)
    if stop >= 0:
        following = text.find("\n", stop + 1)
        stop = len(text) if following < 0 else following
    return text[start : len(text) if stop < 0 else stop]


def _as_link(contact: str) -> str:
    """A contact written out in the text (`https://…`, `www.…`, `name@domain`) as the link it stands for."""
    if "://" in contact:
        return contact
    return "mailto:" + contact if "@" in contact else "http://" + contact


def _instruction_with_contact(text: str, links: list[Link], policy: Policy) -> bool:
    """An opt-out instruction with a working address or link beside it (same or next line), on no term
    16 CFR 316.5 forbids."""
    for m in _OPT_OUT_WORDS.finditer(text):
        if forbidden_term(sentences_around(text, m.start(), m.end())):
            continue
        near = _instruction_lines(text, m.start(), m.end())
        contacts = (c.rstrip(".,;:!?)") for c in _LITERAL_CONTACT.findall(near))
        if any(_works(_as_link(x), policy) for x in contacts):
            return True
        if any(len(link.text) > 1 and link.text.lower() in near and working(link, policy) for link in links):
            return True
    return False


@enforces(CANSPAM_UNSUBSCRIBE)
def unsubscribe_link(c: EmailCheck) -> str | None:
    """Marketing mail carries a clear and conspicuous, working way to opt out: a visible link that says so,
    or a visible instruction with a working address. An image whose alt text says "unsubscribe" is not a
    visible link; a link to a host no reader can reach (localhost, a private or loopback address in any
    form a browser reads, .invalid, .local, a single-label name; `policy.allow_example_domains = false`
    adds .example and .test) is not a working one (links.py). Nor is a link that says "unsubscribe" but
    leads where the message's other links lead (the sale page), nor one whose sentence sets a term 16 CFR
    316.5 forbids: a fee, a login, information beyond the email address, a life under 30 days
    (optout_terms.py). "Reply with UNSUBSCRIBE" is one (a return email address), unless replies go to a
    no-reply address."""
    if c.category is not Category.MARKETING:
        return None
    text = c.content.folded_text
    links = [link for link in c.content.links if link.text]
    elsewhere = _Elsewhere(links)
    refused = ""
    for link in reversed(links):  # footers come last: looking from the end finds the unsubscribe link first
        if not _says_opt_out(link) or not working(link, c.policy):
            continue
        if elsewhere.leads(link):
            refused = f"; the link {link.text!r} leads where the message's other links lead, to no opt-out"
            continue
        term = _term_beside(text, link.text.lower())
        if term is None:
            return None
        refused = f"; the opt-out {link.text!r} {term} (16 CFR 316.5)"
    if _instruction_with_contact(text, [k for k in links if not elsewhere.leads(k)], c.policy):
        return None
    replying = reply_instruction(text)
    if (
        replying
        and replies_reach(c.content.reply_to, c.content.from_addresses)
        and not forbidden_term(sentences_around(text, replying.start(), replying.end()))
    ):
        return None  # a return email address (7704(a)(3)(A)(i)); 316.5 allows "a reply"
    return "no visible, working unsubscribe link or opt-out instruction" + refused


def _says_opt_out(link: Link) -> bool:
    return bool(_OPT_OUT_URL.search(link.url) or _OPT_OUT_WORDS.search(link.text.lower()))


class _Elsewhere:
    """Where the message's links lead, counted once asked (a newsletter has thousands of links; the
    question is rarely asked: most opt-out links say so in their address)."""

    def __init__(self, links: list[Link]) -> None:
        self.links = links
        self._counts: Counter[str] | None = None

    def leads(self, link: Link) -> bool:
        """A link that says opt-out (or stands beside an instruction) but leads where another link of the
        message that is no opt-out leads ("Unsubscribe" to the sale page): no functioning mechanism."""
        if _OPT_OUT_URL.search(link.url):
            return False
        if self._counts is None:
            self._counts = Counter(k.url for k in self.links)
        if self._counts[link.url] < 2:
            return False
        return any(k.url == link.url and k is not link and not _says_opt_out(k) for k in self.links)


def _term_beside(text: str, anchor: str) -> str | None:
    """What the sentence around a link's (last) anchor text demands of the reader who opts out."""
    at = text.rfind(anchor)
    return None if at < 0 else forbidden_term(sentences_around(text, at, at + len(anchor)))


def _has_express_consent(r: RecipientFacts, at: datetime) -> bool:
    return r.consent_level(at) >= ConsentLevel.EXPRESS


@enforces(CANSPAM_AD_LABEL)
def ad_label(c: EmailCheck) -> str | None:
    """Marketing mail is clearly identified as an advertisement (one of policy.ad_label_phrases in the
    subject or the visible text, not denied: "This is not an advertisement" is no label; spelled in
    look-alike letters it is), unless every recipient gave affirmative (express) consent."""
    if c.category is not Category.MARKETING:
        return None
    if c.recipients and all(_has_express_consent(r, c.at) for r in c.recipients):
        return None
    pattern = c.policy.ad_label
    if pattern is not None and any(
        labels(pattern, text) for text in (c.content.subject.lower(), c.content.folded_text)
    ):
        return None
    return (
        "not identified as an advertisement in the subject or visible text "
        "(waived only when every recipient gave express consent)"
    )


@enforces(LIST_UNSUBSCRIBE_HEADER)
def list_unsubscribe_header(c: EmailCheck) -> str | None:
    """Marketing mail carries List-Unsubscribe with an HTTPS URI and List-Unsubscribe-Post:
    List-Unsubscribe=One-Click. Checked when the gateway is configured not to add them itself, and, when it
    adds them but does not repair a client's own, on a message that brings its own."""
    if c.category is not Category.MARKETING:
        return None
    header = c.content.list_unsubscribe or ""
    post = (c.content.list_unsubscribe_post or "").replace(" ", "")
    if c.policy.gateway_adds_list_unsubscribe and (
        c.policy.gateway_repairs_list_unsubscribe or not (header or post)
    ):
        return None
    if "<https://" in header.lower() and post.lower() == "list-unsubscribe=one-click":
        return None
    return (
        "marketing mail needs List-Unsubscribe (with an https URI) and "
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    )


CONTENT_RULES = (
    category_not_allowed,
    from_domain,
    deceptive_subject,
    explicit_label,
    physical_address,
    unsubscribe_link,
    ad_label,
    list_unsubscribe_header,
)


_MARKETING_ONLY = frozenset(
    c.name for c in (CANSPAM_PHYSICAL_ADDRESS, CANSPAM_UNSUBSCRIBE, CANSPAM_AD_LABEL, LIST_UNSUBSCRIBE_HEADER)
)


def content_violations(c: EmailCheck) -> tuple[Violation, ...]:
    found = tuple(v for rule in CONTENT_RULES if (v := rule(c)) is not None)
    if not c.why:
        return found
    # mail judged as marketing though its stream is not: each finding says why the marketing rules applied
    suffix = f" (judged as marketing: {c.why})"
    return tuple(
        Violation(v.code, v.message + suffix, v.recipient) if v.code in _MARKETING_ONLY else v for v in found
    )
