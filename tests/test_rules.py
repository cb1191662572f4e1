"""The pure pieces the rules stand on, case by case: what a reader sees, addresses, suppression semantics."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.addresses import address_hash, is_valid_email, phone_info
from gateway.content.html import render
from gateway.model import Category, Channel, ConsentLevel, Reason, RecipientFacts, Suppression
from gateway.policy import envelope_violations
from gateway.policy.postal import compile_address, find_any_us_address
from gateway.policy.recipients import blocks
from gateway.policy.settings import Policy, SenderSettings
from gateway.policy.textsearch import phrases

AT = datetime(2026, 5, 5, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "html, text",
    [
        ("<p>Hello</p><p>World</p>", "Hello\nWorld"),
        ("Spring<b>field</b>", "Springfield"),
        ("a<br>b<BR/>c", "a\nb\nc"),
        ("<head><title>T</title><style>p{}</style></head>body", "body"),
        ("<script>var x='<p>no</p>'</script>yes", "yes"),
        ("<!-- secret -->shown<!--[if mso]>outlook<![endif]-->", "shown"),
        ("<!-- a <style> in a comment -->shown", "shown"),
        ("<script>var open = '<!--';</script>shown", "shown"),
        ("<style><!-- p{} --></style>shown", "shown"),
        ("<div style='DISPLAY: NONE'>pre<div>nested</div>header</div>after", "after"),
        ('<span style="visibility:hidden">x</span>y', "y"),
        ('<span style="opacity:0">x</span>y', "y"),
        ("<p hidden>x</p>y", "y"),
        ("<div style='overflow: hidden'>kept</div>", "kept"),
        ("<div class='hidden-xs'>kept</div>", "kept"),
        ("<div style='font-size:0'><span style='font-size:13px'>kept</span></div>", "kept"),
        ("caf&eacute; &amp; &#169;", "café & ©"),
        ("zero&#8203;width\u200cjoin", "zerowidthjoin"),
        ("a&#" + "9" * 5000 + ";b&#x110000;c", "a\ufffdb\ufffdc"),  # past U+10FFFF, however many digits
        ("  <p> Un&nbsp;\t subscribe\u2003here </p>\n\n<p>\u3000</p> next ", "Un subscribe here\nnext"),
        ("<p><a href='u'> Opt out </a></p><p> <a href='v'></a> </p>tail", "Opt out\ntail"),
    ],
)
def test_visible_text(html, text):
    assert render(html)[0] == text


def test_links_carry_their_visible_text_only():
    _, links = render(
        '<a href="https://x.example/u?a=1&amp;b=2"><img alt="Unsubscribe" src=u.png></a>'
        "<A HREF='mailto:out@x.example'>Opt <b>out</b></A><a href=bare>unclosed"
    )
    assert [(l.url, l.text) for l in links] == [
        ("https://x.example/u?a=1&b=2", ""),
        ("mailto:out@x.example", "Opt out"),
        ("bare", "unclosed"),
    ]


def test_a_quoted_href_may_hold_a_tag_end():
    """The anchor's start tag ends after its quoted href, not at a '>' inside it: nothing of the tag shows,
    and each anchor keeps its own href however many anchors follow."""
    text, links = render(
        '<p><a href="https://x.example/u?next=a>b">Unsubscribe</a> <a href="https://x.example/p">'
        "Preferences</a></p>"
    )
    assert text == "Unsubscribe Preferences"
    assert [(l.url, l.text) for l in links] == [
        ("https://x.example/u?next=a>b", "Unsubscribe"),
        ("https://x.example/p", "Preferences"),
    ]


# Pieces that make references html.unescape reads in more than one way: no semicolon, a name read only
# up to a known prefix, numbers, a lone '&', names of 40 letters, and text that completes a reference.
REFERENCE_PIECES = [
    "&amp;",
    "&amp",
    "&lt;",
    "&nbsp;",
    "&zwnj;",
    "&eacute;",
    "&notit;",
    "&not",
    "&#169;",
    "&#x41;",
    "&#39",
    "&#;",
    "&#x;",
    "&",
    ";",
    "#",
    "amp",
    "lt;",
    "x",
    "1",
    "\u00e9",
    "&Eacute",
    "&ampx;",
    "&" + "a" * 40 + ";",
    "&copy",
    "&copysr;",
    "&#0;",
    "&#x110000;",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(REFERENCE_PIECES), max_size=30))
def test_character_references_decode_as_html_unescape_reads_the_whole_text(pieces):
    text = "".join(pieces)
    assert render(text)[0] == " ".join(html.unescape(text).replace("\u200c", "").split())


def test_each_anchor_keeps_its_own_href_when_they_are_decoded_together():
    _, links = render(
        '<a href="x&amp">1</a><a href="lt;y">2</a><a href="&lt;c&gt;">3</a><a href=plain>4</a>'
        '<a href="a&amp;b&copy;">5</a>'
    )
    assert [l.url for l in links] == ["x&", "lt;y", "<c>", "plain", "a&b\u00a9"]


def test_links_inside_hidden_blocks_are_gone():
    assert render('<div style="display:none"><a href="https://x.example/u">Unsubscribe</a></div>')[1] == ()


ADDRESS = compile_address("123 Main St, Suite 4, Springfield, IL 62701")


@pytest.mark.parametrize(
    "text, found",
    [
        ("123 main st, suite 4, springfield, il 62701", True),
        ("123 main street\nste. 4\nspringfield, illinois 62701-1234", True),
        ("123 main st #4 springfield il 62701", True),
        ("123 main st, suite 45, springfield, il 62701", False),
        ("1123 main st, suite 4, springfield, il 62701", False),
        ("123 main st, suite 4, springfield, il 62702", False),
        ("123 main st, suite 4, springfield, il", False),
    ],
)
def test_configured_address_matching(text, found):
    assert bool(ADDRESS.search(text)) is found


def test_po_box_and_pmb_spellings():
    box = compile_address("PO Box 55, Austin, TX 78701")
    assert box.search("p.o. box 55 austin, texas 78701") and box.search("post office box 55, austin tx 78701")
    pmb = compile_address("500 Elm Ave PMB 12, Reno, NV 89501")
    assert pmb.search("500 elm avenue #12, reno, nv 89501")


@pytest.mark.parametrize(
    "text, found",
    [
        ("Visit 500 Oak Avenue, Portland, OR 97201", True),
        ("Northwind\n500 Oak Avenue\nPortland, OR 97201", True),
        ("Write to PO Box 12, Reno NV 89501-0012", True),
        ("We moved to a new office in Portland", False),
        ("Call 555 1234 for 20% off", False),
    ],
)
def test_any_us_address_fallback(text, found):
    assert (find_any_us_address(text) is not None) is found


def test_phrase_search_respects_word_edges():
    p = phrases(("ad:", "advertisement", "[ad]"))
    assert p.search("ad: spring") and p.search("this is an advertisement.") and p.search("[ad] x")
    assert p.search("x\n[ad]") and p.search("ADVERTISEMENT".lower())
    for text in ("bad: spring", "lead:", "readvertisement", "advertisements", "ad"):
        assert p.search(text) is None, text


@pytest.mark.parametrize(
    "reason, channel, category, blocked",
    [
        (Reason.UNSUBSCRIBE, Channel.EMAIL, Category.MARKETING, True),
        (Reason.UNSUBSCRIBE, Channel.EMAIL, Category.INFORMATIONAL, True),
        (Reason.UNSUBSCRIBE, Channel.EMAIL, Category.TRANSACTIONAL, False),
        (Reason.BOUNCE, Channel.EMAIL, Category.TRANSACTIONAL, True),
        (Reason.COMPLAINT, Channel.EMAIL, Category.TRANSACTIONAL, True),
        (Reason.MANUAL, Channel.EMAIL, Category.TRANSACTIONAL, True),
        (Reason.ERASED, Channel.EMAIL, Category.TRANSACTIONAL, True),
        (Reason.STOP, Channel.SMS, Category.TRANSACTIONAL, True),
        (Reason.DNC, Channel.SMS, Category.TRANSACTIONAL, False),
        (Reason.DNC, Channel.SMS, Category.MARKETING, True),
        (Reason.LITIGATOR, Channel.SMS, Category.INFORMATIONAL, True),
    ],
)
def test_which_suppressions_block_which_categories(reason, channel, category, blocked):
    entry = Suppression(channel, "h", "a", "global", reason, "t", AT)
    assert blocks(entry, channel, category) is blocked


def test_envelope_check_as_the_smtp_door_runs_it():
    sender = SenderSettings(
        "acme", "Acme", Category.MARKETING, frozenset(Category), email_consent_required=ConsentLevel.EXPRESS
    )
    gone = RecipientFacts(
        "gone@example.com",
        (
            Suppression(
                Channel.EMAIL, address_hash("gone@example.com"), None, "acme", Reason.UNSUBSCRIBE, "link", AT
            ),
        ),
    )
    found = envelope_violations(Channel.EMAIL, gone, Category.MARKETING, sender, Policy(), AT)
    assert [(v.code, v.message) for v in found] == [
        ("SUPPRESSED", "opted out 2026-05-05 via unsubscribe"),
        ("CONSENT_MISSING", "consent on record is none; marketing email needs express"),
    ]
    assert (
        envelope_violations(Channel.EMAIL, RecipientFacts("x@@y"), Category.MARKETING, sender, Policy(), AT)[
            0
        ].code
        == "INVALID_RECIPIENT"
    )


@pytest.mark.parametrize(
    "address, valid",
    [
        ("a@example.com", True),
        ("first.last+tag@sub.example.co.uk", True),
        ("用户@例子.广告", True),
        ("a@b", False),
        ("a@@b.com", False),
        ("a b@c.com", False),
        (".a@b.com", False),
        ("a@b.123", False),
        ("x" * 65 + "@b.com", False),
        ('"quoted local"@example.com', True),
        ("rtl\u202emoc.live@example.com", False),  # shows as rtlmoc.elpmaxe@evil.com
        ("zero\u200bwidth@example.com", False),
    ],
)
def test_email_address_validity(address, valid):
    assert is_valid_email(address) is valid


def test_phone_numbers_must_be_exactly_e164():
    assert phone_info("+13055550123").nanp_area_code == "305"
    assert phone_info("+18005551234").toll_free
    for bad in ("13055550123", "+1 305 555 0123", "+1305555012", "+10005550123", "+13055550123 ", ""):
        assert phone_info(bad) is None
