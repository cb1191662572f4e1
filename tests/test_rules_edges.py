"""Edges of the rules found by the second held-out round (tests/heldout, r2-): what hides text beyond
display and colour, the terms an opt-out may not set (16 CFR 316.5), what misleads (7704(a)(1), (a)(2)),
addresses outside the US, the primary purpose of texts, CASL's unsubscribe for transactional texts, and
the calling window's last instant. Each case beside a look-alike that must stay as it is."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from gateway.content.html import render
from gateway.model import Category
from gateway.policy.misleading import labels, named_domains, poses_as_transaction
from gateway.policy.optout_terms import forbidden_term, replies_reach, reply_instruction, sentences_around
from gateway.policy.postal import find_any_address
from gateway.policy.purpose import sms_purpose
from gateway.policy.settings import Policy, Window
from gateway.policy.sms import _OPT_OUT_NOTICE


def visible(markup: str) -> str:
    return " ".join(render(markup)[0].split())


@pytest.mark.parametrize(
    "markup, shown",
    [
        # the "visually hidden" box, off-screen and indented text, closed <details>
        (
            '<p>A</p><span style="position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0,0,0,0)">U</span>',
            "A",
        ),
        ('<p>A</p><p style="text-indent:-9999px;overflow:hidden">U</p>', "A"),
        ('<p>A</p><div style="position:absolute; left:-9999px">U</div>', "A"),
        ('<p>A</p><div style="clip-path: inset(50%)">U</div>', "A"),
        ("<details><summary>More</summary><p>U</p></details><p>A</p>", "More A"),
        ("<details open><summary>More</summary><p>U</p></details>", "More U"),
        # what only looks like them
        ('<p style="text-indent:20px">U</p>', "U"),
        ('<p style="position:relative;left:-10px">U</p>', "U"),
        ('<p style="position:absolute;left:-40px">U</p>', "U"),
        ('<div style="clip:rect(0, 300px, 200px, 0);position:absolute">U</div>', "U"),
        ('<td style="height:1px;font-size:1px;line-height:1px">&nbsp;</td><p>U</p>', "U"),
        # <font color> on its background; a link that takes the unreadable colour on is cut with it
        ('<td bgcolor="#ffffff"><font color="#FFFFFF">U</font> <font color="#333333">A</font></td>', "A"),
        (
            '<p><font color="#ffffff">x <a href="https://a.example/u" style="color:inherit">U</a></font></p>',
            "",
        ),
        ('<p><font color="#ffffff">x <a href="https://a.example/u">U</a></font></p>', "U"),
        ('<td bgcolor="#000000"><font color="#ffffff">U</font></td>', "U"),
        # attribute selectors and the subject's position among its siblings
        (
            '<style>[data-role="postal"]{display:none}</style><p data-role="postal">P</p><p data-role="x">A</p>',
            "A",
        ),
        ("<style>p[data-x]{display:none}</style><p>A</p>", "A"),
        ('<style>.f p:last-child{display:none}</style><div class="f"><p>A</p>\n<p>U</p>\n</div>', "A"),
        ('<style>.f p:first-child{display:none}</style><div class="f"><p>U</p><p>A</p></div>', "A"),
        ('<style>.f p:first-child{display:none}</style><div class="f">x<br><p>A</p></div>', "x A"),
        ("<style>a:hover{display:none}</style><p>A</p>", "A"),
    ],
)
def test_what_a_reader_cannot_see(markup, shown):
    assert visible(markup) == shown


@pytest.mark.parametrize(
    "text, term",
    [
        ("don't want these emails? unsubscribe (a $1.99 processing fee applies).", "asks a fee"),
        ("unsubscribe. this link expires 7 days after this email was sent.", "stops working after 7 days"),
        ("unsubscribe. this link expires in 48 hours.", "stops working after 48 hours"),
        ("to unsubscribe, sign in to your account and change your settings.", "needs a login"),
        ("sign in to unsubscribe.", "needs a login"),
        (
            "to unsubscribe, visit this page and enter your email address, zip code and date of birth.",
            "asks for more",
        ),
        # what sets no term
        ("unsubscribe | sign in | free shipping over $50", None),
        ("unsubscribe at any time at no charge.", None),
        ("unsubscribe anytime, free of charge. free shipping on orders over $50.", None),
        ("you can unsubscribe or log in to update your preferences.", None),
        ("unsubscribe. this link works for 60 days.", None),
        ("to update your mailing address or unsubscribe, visit our preference center.", None),
    ],
)
def test_the_terms_an_opt_out_may_not_set(text, term):
    at = text.find("unsubscribe")
    found = forbidden_term(sentences_around(text, at, at + len("unsubscribe")))
    assert (found is None) if term is None else (found is not None and found.startswith(term)), found


def test_a_reply_is_an_opt_out_mechanism_unless_nobody_reads_replies():
    assert reply_instruction("don't want these? reply to this email with unsubscribe in the subject line.")
    assert reply_instruction('reply "remove" to stop these emails')
    assert not reply_instruction("please do not reply to this email. to unsubscribe click here")
    assert replies_reach((), ("news@northwind.example",))
    assert not replies_reach((), ("no-reply@northwind.example",))
    assert not replies_reach(("donotreply@northwind.example",), ("news@northwind.example",))


@pytest.mark.parametrize(
    "subject, misleading",
    [
        ("Your package could not be delivered", True),
        ("Your order #NW-552190 has shipped", True),
        ("Action required: your account will be suspended", True),
        ("Payment failed: update your card", True),
        ("Winter sale: 25% off everything", False),
        ("Your order ships free this weekend", False),
        ("Free shipping on your next order", False),
        ("Last chance: 40% off ends tonight", False),
    ],
)
def test_subjects_that_pose_as_a_transaction(subject, misleading):
    assert (poses_as_transaction(subject) is not None) is misleading


def test_a_display_name_that_shows_another_domain():
    assert named_domains('"Amazon.com" <news@mail.northwind.example>') == ["amazon.com"]
    assert named_domains('"support@paypal.com" <a@northwind.example>') == ["paypal.com"]
    assert named_domains("St. Louis Cards <a@northwind.example>") == []
    assert named_domains("Acme Inc. <a@northwind.example>") == []


def test_a_denied_label_is_no_label_and_look_alike_letters_are_read_as_letters():
    pattern = Policy().ad_label
    assert pattern is not None
    assert not labels(pattern, "this is not an advertisement. 25% off")
    assert not labels(pattern, "not an ad: buy now")
    assert labels(pattern, "this message is an advertisement")
    assert labels(pattern, "advertis\u0435ment: winter sale")  # a Cyrillic е


@pytest.mark.parametrize(
    "text, found",
    [
        ("Summit Supply\n1055 W Georgia St, Suite 1500\nVancouver, BC V6E 4N7\nCanada", True),
        ("1200 rue Sainte-Catherine O\nMontréal, QC H3B 1K9", True),
        ("CP 123, Québec QC G1K 7X2", True),
        ("Vancouver, BC V6E 4N7", False),  # a city is no address
        ("1055 W Georgia St, Vancouver, BC", False),  # no postal code
    ],
)
def test_a_canadian_street_address_is_a_physical_postal_address(text, found):
    assert (find_any_address(text) is not None) is found


@pytest.mark.parametrize(
    "body, category, judged",
    [
        (
            "Your order #4471 has shipped. Add a beanie for 30% off with code BEANIE30.",
            Category.TRANSACTIONAL,
            Category.MARKETING,
        ),
        (
            "Store update: Winter Clearance starts today, shop now.",
            Category.INFORMATIONAL,
            Category.MARKETING,
        ),
        (
            "Your order #4471 has shipped and arrives Thursday.",
            Category.TRANSACTIONAL,
            Category.TRANSACTIONAL,
        ),
        ("Your refund of $42.10 was issued today.", Category.TRANSACTIONAL, Category.TRANSACTIONAL),
        ("Store hours change on Monday: we open at 10.", Category.INFORMATIONAL, Category.INFORMATIONAL),
    ],
)
def test_a_text_with_an_advertisement_in_it_is_marketing(body, category, judged):
    assert sms_purpose(body, category).category is judged


def test_opt_out_and_revoke_are_opt_out_keywords():
    for body in ("reply opt out to stop these texts", "reply opt-out", "text revoke to stop", "reply stop"):
        assert _OPT_OUT_NOTICE.search(body), body


def test_the_calling_window_ends_at_its_last_instant_not_before():
    window = Window(time(8), time(21))
    local = datetime(2026, 1, 13, 21, 0, tzinfo=UTC)
    assert window.allows(local)  # "after 9 p.m." (64.1200(c)(1)): 21:00:00 itself is not after it
    assert not window.allows(local.replace(second=1))
    assert not window.allows(local.replace(hour=7, minute=59, second=59))


def test_common_positions_and_overflows_do_not_make_a_message_unjudgeable():
    """Suspects of clipping are everywhere in some newsletters (position:relative, overflow:hidden on every
    cell): only what they hide is bounded (hiding.MAX_FINDINGS), not how often the words occur."""
    sheet = (
        "<style>" + "".join(f".c{i}{{position:relative;overflow:hidden}}" for i in range(600)) + "</style>"
    )
    cells = "".join(
        f'<td class="c{i}" style="position:relative;overflow:hidden">cell {i}</td>' for i in range(600)
    )
    assert visible(sheet + f"<table><tr>{cells}</tr></table><p>Unsubscribe</p>").endswith(
        "cell 599 Unsubscribe"
    )
