#!/usr/bin/env python3
"""Writes the held-out email corpus: tests/heldout/email/*.eml and email/expected.toml.

The .eml files are committed; this script is how they were made, so that a change to a case is made
here and the files regenerated (`python tests/heldout/make_email.py`). Each case isolates one defect:
everything else a commercial message needs (ad label, postal address, a visible working opt-out) is
present and visible unless the case is about that element. See README.md for the labels and citations.
"""

from __future__ import annotations

import base64
import pathlib
from dataclasses import dataclass, field

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "email"

BRAND = "Northwind Outfitters"
ADDR_HTML = "Northwind Outfitters<br>1450 Harbor Blvd, Suite 210<br>Tacoma, WA 98402"
ADDR_TEXT = "Northwind Outfitters\n1450 Harbor Blvd, Suite 210\nTacoma, WA 98402"
UNSUB = "https://northwindoutfitters.com/email/unsubscribe?u=c7f41a9e&list=news"
UNSUB_HTML = UNSUB.replace("&", "&amp;")
SHOP = "https://northwindoutfitters.com/sale/winter?utm_source=email&utm_campaign=w26"
AD_SUBJECT = "Advertisement: Winter layers are 25% off this week"

# Citations, one line per case (the README gives the full text behind each).
CITE_U = (
    "15 U.S.C. 7704(a)(3)(A) (opt-out mechanism 'clearly and conspicuously displayed'), "
    "(a)(5)(A)(ii) ('clear and conspicuous notice' of the opt-out)"
)
CITE_A = (
    "15 U.S.C. 7704(a)(5)(A)(iii): the message must provide a valid physical postal address (16 CFR 316.2(p)); "
    "one the recipient cannot see is not provided (README)"
)
CITE_OK = "control: 15 U.S.C. 7704(a)(3),(a)(5)(A) met: footer is visible as rendered"
CITE_DEAD = "15 U.S.C. 7704(a)(3)(A)(i): a functioning return address or Internet-based opt-out mechanism"
CITE_DEAD_OK = "control: 15 U.S.C. 7704(a)(3)(A)(i) met: opt-out reachable by any recipient"
CITE_PP = "16 CFR 316.3(a)(2)(ii): transactional content not at the beginning of the body -> commercial"
CITE_PP_AD = "16 CFR 316.3(a)(1): only commercial content -> commercial, whatever the subject"
CITE_PP_OK = (
    "control: 16 CFR 316.3(a)(2)(ii): transactional content first -> transactional (15 U.S.C. 7702(17))"
)
CITE_RCPT = "SPEC (recipients from To/Cc) + RFC 5322 3.4/3.4.1 addr-spec: not a valid address"
CITE_RCPT_OK = "control: RFC 5322 3.4 valid address-list"


@dataclass
class Case:
    id: str
    group: str
    title: str
    html: str | None
    text: str | None = None
    sender: str = "northwind"
    subject: str = AD_SUBJECT
    from_: str = "Northwind Outfitters <news@mail.northwindoutfitters.com>"
    to: str = "Casey Morgan <casey.morgan@outlook.com>"
    cc: str | None = None
    expected: list[str] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    cite: str = ""
    date: str = "Tue, 13 Jan 2026 10:00:00 -0800"
    # round 2: extra header fields (after Message-ID), a ready-made MIME entity instead of the generated
    # body, and the Message-ID domain when From is absent or foreign. from_/subject None: header omitted.
    headers: list[tuple[str, str]] = field(default_factory=list)
    mime: str | None = None
    msgid_domain: str | None = None


CASES: list[Case] = []


def add(**kw) -> None:
    CASES.append(Case(**kw))


# --------------------------------------------------------------------------------------------------
# HTML building blocks


def page(
    footer: str,
    css: str = "",
    pre: str = "",
    body_style: str = "margin:0;padding:0;background-color:#f4f4f4;",
    outer: str = 'bgcolor="#f4f4f4"',
    inner: str = 'bgcolor="#ffffff" style="background-color:#ffffff;"',
    title: str = "Winter layers are 25% off",
) -> str:
    style = f'<style type="text/css">\n{css}\n</style>\n' if css else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{style}</head>
<body style="{body_style}">
{pre}<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {outer}>
<tr><td align="center" style="padding:24px 0;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" {inner}>
<tr><td style="padding:32px 24px 8px 24px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:24px;color:#222222;">
<p style="margin:0 0 12px 0;font-size:12px;color:#555555;">This email is an advertisement from Northwind Outfitters.</p>
<h1 style="margin:0 0 16px 0;font-size:28px;line-height:34px;color:#0b3d2e;">Winter layers, 25% off</h1>
<p style="margin:0 0 16px 0;">Our Ridgeline fleece, Summit down parka and merino base layers are 25% off through Sunday, January 18.
Free returns on every order.</p>
<p style="margin:0 0 24px 0;"><a href="{SHOP.replace("&", "&amp;")}" style="display:inline-block;padding:12px 20px;background-color:#0b3d2e;color:#ffffff;text-decoration:none;border-radius:4px;">Shop the sale</a></p>
</td></tr>
{footer}
</table>
</td></tr>
</table>
</body>
</html>
"""


TD = "padding:16px 24px 32px 24px;font-family:Arial,Helvetica,sans-serif;font-size:12px;line-height:18px;color:#555555;"


def footer(
    *,
    td_attrs: str = 'class="footer"',
    td_style: str = TD,
    addr: str | None = None,
    unsub: str | None = None,
    extra: str = "",
) -> str:
    """The footer row. `addr` / `unsub` replace the default (visible) paragraphs."""
    if addr is None:
        addr = f'<p class="addr" style="margin:0 0 8px 0;">{ADDR_HTML}</p>'
    if unsub is None:
        unsub = unsub_p()
    return (
        f'<tr><td {td_attrs} style="{td_style}">\n'
        f'<p style="margin:0 0 8px 0;">You received this email because you signed up at northwindoutfitters.com.</p>\n'
        f"{addr}\n{unsub}\n{extra}</td></tr>"
    )


def unsub_p(
    p_attrs: str = 'class="optout"',
    p_style: str = "margin:0;",
    a_style: str = "color:#555555;text-decoration:underline;",
    a_attrs: str = "",
    url: str = UNSUB,
) -> str:
    a_attrs = f" {a_attrs}" if a_attrs else ""
    url = url.replace("&", "&amp;")
    return (
        f'<p {p_attrs} style="{p_style}">Don\'t want these emails? '
        f'<a href="{url}"{a_attrs} style="{a_style}">Unsubscribe</a>.</p>'
    )


def addr_p(p_attrs: str = 'class="addr"', p_style: str = "margin:0 0 8px 0;") -> str:
    return f'<p {p_attrs} style="{p_style}">{ADDR_HTML}</p>'


def text_body(url: str = UNSUB, addr: bool = True, unsub: bool = True) -> str:
    t = (
        "Winter layers, 25% off\n\nThis email is an advertisement from Northwind Outfitters.\n\n"
        "Our Ridgeline fleece, Summit down parka and merino base layers are 25% off through Sunday, January 18.\n"
        "Free returns on every order.\n\n"
        f"Shop the sale: {SHOP}\n\n--\nYou received this email because you signed up at northwindoutfitters.com.\n"
    )
    if addr:
        t += f"\n{ADDR_TEXT}\n"
    if unsub:
        t += f"\nDon't want these emails? Unsubscribe: {url}\n"
    return t


# --------------------------------------------------------------------------------------------------
# Group 1: hidden opt-out link or postal address (HTML-only messages: what the recipient sees is the HTML)

G1 = "1-hidden"
U = ["CANSPAM_UNSUBSCRIBE"]
A = ["CANSPAM_PHYSICAL_ADDRESS"]

add(
    id="h01-class-rule-hides-unsub",
    group=G1,
    title="<style> class selector .optout{display:none}",
    html=page(footer(), css=".optout { display: none; }"),
    expected=U,
    cite=CITE_U,
)
add(
    id="h02-id-rule-hides-unsub",
    group=G1,
    title="<style> id selector #optout{display:none}",
    html=page(footer(unsub=unsub_p(p_attrs='id="optout"')), css="#optout{display:none}"),
    expected=U,
    cite=CITE_U,
)
add(
    id="h03-type-rule-hides-unsub",
    group=G1,
    title="<style> type selector small{display:none}, link inside <small>",
    html=page(
        footer(
            unsub=f'<p class="optout" style="margin:0;"><small>Don\'t want these emails? '
            f'<a href="{UNSUB_HTML}" style="color:#555555;">Unsubscribe</a>.</small></p>'
        ),
        css="small { display:none }",
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h04-descendant-rule-hides-link",
    group=G1,
    title="<style> descendant selector .footer a{display:none}",
    html=page(footer(), css="td.footer a { display: none; }"),
    expected=U,
    cite=CITE_U,
)
add(
    id="h05-child-combined-rule-hides-link",
    group=G1,
    title="<style> combined child selector td.footer > p.optout > a",
    html=page(
        footer(unsub=unsub_p(a_attrs='class="unsub-link"')),
        css="td.footer > p.optout > a.unsub-link { visibility: hidden; }",
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h06-selector-list-hides-unsub",
    group=G1,
    title="<style> selector list .promo-legacy, .optout, .old-banner",
    html=page(footer(), css=".promo-legacy, .optout, .old-banner { display: none; }"),
    expected=U,
    cite=CITE_U,
)
add(
    id="h07-important-beats-inline",
    group=G1,
    title="<style> .optout{display:none !important} beats inline display:block",
    html=page(
        footer(unsub=unsub_p(p_style="display:block;margin:0;")), css=".optout { display: none !important; }"
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h08-ancestor-display-none-unsub",
    group=G1,
    title="display:none on an ancestor div around a nested table",
    html=page(
        footer(
            unsub='<div style="display:none;">\n<table role="presentation" width="100%"><tr><td>\n'
            + unsub_p()
            + "\n</td></tr></table>\n</div>"
        )
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h09-visibility-hidden-unsub",
    group=G1,
    title="visibility:hidden on the opt-out paragraph",
    html=page(footer(unsub=unsub_p(p_style="margin:0;visibility:hidden;"))),
    expected=U,
    cite=CITE_U,
)
add(
    id="h10-preheader-maxheight-unsub",
    group=G1,
    title="opt-out moved into a preheader block: max-height:0;overflow:hidden;mso-hide:all",
    html=page(
        footer(unsub=""),
        pre='<div style="max-height:0;overflow:hidden;mso-hide:all;font-size:12px;">'
        + unsub_p()
        + "</div>\n",
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h11-height0-overflow-unsub",
    group=G1,
    title="height:0;overflow:hidden wrapper",
    html=page(footer(unsub='<div style="height:0;overflow:hidden;">' + unsub_p() + "</div>")),
    expected=U,
    cite=CITE_U,
)
add(
    id="h12-fontsize0-on-link",
    group=G1,
    title="font-size:0 on the link itself (the only opt-out words are the link)",
    html=page(
        footer(
            unsub=f'<p class="optout" style="margin:0;"><a href="{UNSUB_HTML}" style="font-size:0;color:#555555;">Unsubscribe</a></p>'
        )
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h13-fontsize1px-on-ancestor",
    group=G1,
    title="font-size:1px on the opt-out paragraph (ancestor of the link)",
    html=page(footer(unsub=unsub_p(p_style="margin:0;font-size:1px;line-height:1px;"))),
    expected=U,
    cite=CITE_U,
)
add(
    id="h14-white-on-inline-background",
    group=G1,
    title="text #fff on td style=background:#ffffff (#fff vs #ffffff)",
    html=page(
        footer(
            td_style=TD + "background:#ffffff;",
            unsub=unsub_p(p_style="margin:0;color:#fff;", a_style="color:#fff;text-decoration:none;"),
        )
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h15-bgcolor-attr-case",
    group=G1,
    title='td bgcolor="#F4F4F4", opt-out colour #f4f4f4 (case differs)',
    html=page(
        footer(
            td_attrs='class="footer" bgcolor="#F4F4F4"',
            unsub=unsub_p(p_style="margin:0;color:#f4f4f4;", a_style="color:#f4f4f4;text-decoration:none;"),
        )
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h16-colour-name-vs-hex",
    group=G1,
    title='table bgcolor="white", opt-out color:#FFFFFF',
    html=page(
        footer(
            unsub='<table role="presentation" width="100%" bgcolor="white"><tr><td>'
            + unsub_p(p_style="margin:0;color:#FFFFFF;", a_style="color:#FFFFFF;text-decoration:none;")
            + "</td></tr></table>"
        )
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h17-rgb-vs-hex",
    group=G1,
    title="background-color:rgb(255, 255, 255) vs color:#ffffff",
    html=page(
        footer(
            td_style=TD + "background-color:rgb(255, 255, 255);",
            unsub=unsub_p(p_style="margin:0;color:#ffffff;", a_style="color:#ffffff;text-decoration:none;"),
        )
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h18-white-on-default-canvas",
    group=G1,
    title="no background anywhere (default white canvas), opt-out color:white",
    html=page(
        footer(
            td_style=TD,
            unsub=unsub_p(p_style="margin:0;color:white;", a_style="color:white;text-decoration:none;"),
        ),
        body_style="margin:0;padding:0;",
        outer="",
        inner="",
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h19-stylesheet-colour-equals-bg",
    group=G1,
    title="<style> .footer .optout, .footer .optout a {color:#ffffff} in a white footer",
    html=page(
        footer(),
        css=".footer .optout, .footer .optout a { color: #ffffff !important; text-decoration: none !important; }",
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h20-opacity0-on-link",
    group=G1,
    title="opacity:0 on the link; the paragraph has no other opt-out words",
    html=page(
        footer(
            unsub=f'<p class="optout" style="margin:0;"><a href="{UNSUB_HTML}" style="opacity:0;color:#555555;">Unsubscribe from these emails</a></p>'
        )
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="h21-hidden-attribute",
    group=G1,
    title="HTML hidden attribute on the opt-out paragraph",
    html=page(footer(unsub=unsub_p(p_attrs='class="optout" hidden'))),
    expected=U,
    cite=CITE_U,
)
add(
    id="h22-multipart-text-visible-html-hidden",
    group=G1,
    title="multipart/alternative: text part shows the link, HTML part (what HTML clients display) hides it by class rule",
    html=page(footer(), css=".optout { display: none; }"),
    text=text_body(),
    expected=U,
    cite=CITE_U + "; RFC 2046 5.1.4 (clients display the richest alternative: the HTML)",
)

# hidden postal address
add(
    id="h23-id-rule-hides-address",
    group=G1,
    title="<style> id selector #postal{display:none}",
    html=page(footer(addr=addr_p(p_attrs='id="postal"')), css="#postal { display: none; }"),
    expected=A,
    cite=CITE_A,
)
add(
    id="h24-type-rule-hides-address",
    group=G1,
    title="<style> address{display:none} on an <address> element",
    html=page(
        footer(addr=f'<address style="font-style:normal;margin:0 0 8px 0;">{ADDR_HTML}</address>'),
        css="address { display: none; }",
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="h25-descendant-rule-hides-address",
    group=G1,
    title="<style> table td.footer p.addr{display:none}",
    html=page(footer(), css="table td.footer p.addr { display: none; }"),
    expected=A,
    cite=CITE_A,
)
add(
    id="h26-selector-list-visibility-address",
    group=G1,
    title="<style> .legacy-banner, .addr { visibility: hidden }",
    html=page(footer(), css=".legacy-banner, .addr { visibility: hidden; }"),
    expected=A,
    cite=CITE_A,
)
add(
    id="h27-important-beats-inline-address",
    group=G1,
    title="<style> .addr{display:none!important} vs inline display:block",
    html=page(
        footer(addr=addr_p(p_style="display:block;margin:0 0 8px 0;")), css=".addr{display:none!important}"
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="h28-ancestor-display-none-address",
    group=G1,
    title="display:none on an ancestor div",
    html=page(footer(addr='<div style="display:none"><div>' + addr_p() + "</div></div>")),
    expected=A,
    cite=CITE_A,
)
add(
    id="h29-preheader-address",
    group=G1,
    title="address only in a preheader block: max-height:0;overflow:hidden;mso-hide:all",
    html=page(
        footer(addr=""),
        pre='<div style="max-height:0px;overflow:hidden;mso-hide:all;">' + addr_p() + "</div>\n",
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="h30-fontsize0-ancestor-address",
    group=G1,
    title="font-size:0 on an ancestor td, no size reset below",
    html=page(
        footer(
            addr='<table role="presentation" width="100%"><tr><td style="font-size:0;line-height:0;">'
            + addr_p()
            + "</td></tr></table>"
        )
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="h31-fontsize1px-address",
    group=G1,
    title="font-size:1px on the address paragraph",
    html=page(footer(addr=addr_p(p_style="margin:0;font-size:1px;line-height:1px;"))),
    expected=A,
    cite=CITE_A,
)
add(
    id="h32-bgcolor-short-hex-address",
    group=G1,
    title='table bgcolor="#333333", address color:#333',
    html=page(
        footer(
            addr='<table role="presentation" width="100%" bgcolor="#333333"><tr><td style="padding:8px;">'
            + addr_p(p_style="margin:0;color:#333;")
            + "</td></tr></table>"
        )
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="h33-rgb-vs-hex-address",
    group=G1,
    title="background-color:rgb(34, 34, 34) vs color:#222222",
    html=page(
        footer(
            addr='<div style="background-color:rgb(34, 34, 34);padding:8px;">'
            + addr_p(p_style="margin:0;color:#222222;")
            + "</div>"
        )
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="h34-named-black-address",
    group=G1,
    title="background:black shorthand vs color:#000000",
    html=page(
        footer(
            addr='<div style="background:black;padding:8px;">'
            + addr_p(p_style="margin:0;color:#000000;")
            + "</div>"
        )
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="h35-opacity0-ancestor-address",
    group=G1,
    title="opacity:0 on an ancestor div",
    html=page(footer(addr='<div style="opacity:0;">' + addr_p() + "</div>")),
    expected=A,
    cite=CITE_A,
)
add(
    id="h36-inherited-white-address",
    group=G1,
    title="white inherited from the ancestor td on a white cell; the address sets no colour",
    html=page(
        footer(
            td_style=TD + "background-color:#ffffff;color:#ffffff;",
            unsub=unsub_p(p_style="margin:0;color:#555555;"),
            addr=addr_p(p_style="margin:0 0 8px 0;"),
        ).replace(
            '<p style="margin:0 0 8px 0;">You received',
            '<p style="margin:0 0 8px 0;color:#555555;">You received',
        )
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="h37-multipart-address-hidden-in-html",
    group=G1,
    title="multipart/alternative: address visible in text part, display:none in the HTML part",
    html=page(footer(addr=addr_p(p_style="display:none;"))),
    text=text_body(),
    expected=A,
    cite=CITE_A + "; RFC 2046 5.1.4",
)

# controls: visible footers in the same styles
add(
    id="c01-class-rule-hides-other",
    group=G1,
    title="control: .mobile-only{display:none} hides a banner, not the footer",
    html=page(
        footer(
            extra='<div class="mobile-only" style="font-size:14px;">Get the app: northwindoutfitters.com/app</div>\n'
        ),
        css=".mobile-only { display: none; }\n@media only screen and (max-width:480px) { .mobile-only { display: block !important; } }",
    ),
    cite=CITE_OK,
)
add(
    id="c02-white-on-dark-footer",
    group=G1,
    title="control: white text on a dark (#1b1b1b) footer cell inside a white body",
    html=page(
        footer(
            td_attrs='class="footer" bgcolor="#1b1b1b"',
            td_style=TD + "background-color:#1b1b1b;color:#ffffff;",
            addr=addr_p(p_style="margin:0 0 8px 0;color:#ffffff;"),
            unsub=unsub_p(
                p_style="margin:0;color:#ffffff;", a_style="color:#ffffff;text-decoration:underline;"
            ),
        ),
        body_style="margin:0;padding:0;background-color:#ffffff;",
        outer='bgcolor="#ffffff"',
    ),
    cite=CITE_OK,
)
add(
    id="c03-hidden-preheader-visible-footer",
    group=G1,
    title="control: preheader teaser hidden (the usual trick), footer visible",
    html=page(
        footer(),
        pre='<div style="display:none;font-size:1px;color:#f4f4f4;line-height:1px;max-height:0px;max-width:0px;'
        'opacity:0;overflow:hidden;mso-hide:all;">Fleece, parkas and base layers: 25% off through Sunday.</div>\n',
    ),
    cite=CITE_OK,
)
add(
    id="c04-visible-preheader-visible-footer",
    group=G1,
    title="control: visible preheader line (view in browser) and visible footer",
    html=page(
        footer(),
        pre='<div style="font-family:Arial,sans-serif;font-size:11px;color:#555555;text-align:center;padding:8px;">'
        'Fleece, parkas and base layers: 25% off. <a href="https://northwindoutfitters.com/email/w26" style="color:#555555;">'
        "View in your browser</a></div>\n",
    ),
    cite=CITE_OK,
)
add(
    id="c05-inherited-white-overridden",
    group=G1,
    title="control: td color:#ffffff inherited, but footer paragraphs set #555555",
    html=page(
        footer(
            td_style=TD + "background-color:#ffffff;color:#ffffff;",
            addr=addr_p(p_style="margin:0 0 8px 0;color:#555555;"),
            unsub=unsub_p(p_style="margin:0;color:#555555;"),
        ).replace(
            '<p style="margin:0 0 8px 0;">You received',
            '<p style="margin:0 0 8px 0;color:#555555;">You received',
        )
    ),
    cite=CITE_OK,
)
add(
    id="c06-small-font-11px",
    group=G1,
    title="control: footer at font-size:11px, readable",
    html=page(
        footer(td_style=TD.replace("font-size:12px;line-height:18px;", "font-size:11px;line-height:16px;"))
    ),
    cite=CITE_OK,
)
add(
    id="c07-display-none-only-in-print",
    group=G1,
    title="control: display:none only inside @media print",
    html=page(footer(), css="@media print {\n  .footer, .optout, .addr { display: none; }\n}"),
    cite=CITE_OK,
)
add(
    id="c08-inline-beats-plain-class-rule",
    group=G1,
    title="control: .optout{display:none} (not !important) loses to inline display:block",
    html=page(footer(unsub=unsub_p(p_style="display:block;margin:0;")), css=".optout { display: none; }"),
    cite=CITE_OK,
)
add(
    id="c09-fontsize0-reset-by-child",
    group=G1,
    title="control: font-size:0 on a td (inline-block gap trick), paragraphs reset to 12px",
    html=page(
        footer(
            td_style=TD.replace("font-size:12px;", "font-size:0;"),
            addr=addr_p(p_style="margin:0 0 8px 0;font-size:12px;"),
            unsub=unsub_p(p_style="margin:0;font-size:12px;"),
        ).replace(
            '<p style="margin:0 0 8px 0;">You received',
            '<p style="margin:0 0 8px 0;font-size:12px;">You received',
        )
    ),
    cite=CITE_OK,
)
add(
    id="c10-visibility-visible-child",
    group=G1,
    title="control: visibility:hidden on a wrapper, visibility:visible on the opt-out itself",
    html=page(
        footer(
            unsub='<div style="visibility:hidden;">'
            + unsub_p(p_style="margin:0;visibility:visible;")
            + "</div>"
        )
    ),
    cite=CITE_OK + " (CSS 2.1 11.2: descendants with visibility:visible are shown)",
)
add(
    id="c11-similar-class-name",
    group=G1,
    title="control: .optout-old{display:none}; the live footer uses class optout",
    html=page(footer(), css=".optout-old, .addr-old { display: none; }"),
    cite=CITE_OK,
)
add(
    id="c12-light-on-rgb-dark",
    group=G1,
    title="control: color:#f0f0f0 on background-color:rgb(20, 20, 20)",
    html=page(
        footer(
            td_style=TD + "background-color:rgb(20, 20, 20);color:#f0f0f0;",
            addr=addr_p(p_style="margin:0 0 8px 0;color:#f0f0f0;"),
            unsub=unsub_p(p_style="margin:0;color:#f0f0f0;", a_style="color:#f0f0f0;"),
        )
    ),
    cite=CITE_OK,
)
add(
    id="c13-address-element-visible",
    group=G1,
    title="control: postal address in a visible <address> element, unrelated hide rule",
    html=page(
        footer(addr=f'<address style="font-style:normal;margin:0 0 8px 0;">{ADDR_HTML}</address>'),
        css=".hide { display: none; }",
    ),
    cite=CITE_OK,
)
add(
    id="c14-multipart-visible",
    group=G1,
    title="control: multipart/alternative, both parts show address and opt-out",
    html=page(footer()),
    text=text_body(),
    cite=CITE_OK,
)

# --------------------------------------------------------------------------------------------------
# Group 2: dead unsubscribe links (multipart; the link is visible but cannot work for a recipient)

G2 = "2-dead-link"
DEAD = [
    ("d01-localhost", "http://localhost/unsubscribe?u=c7f41a9e"),
    ("d02-loopback-v4", "http://127.0.0.1/unsubscribe?u=c7f41a9e"),
    ("d03-rfc1918-10", "http://10.0.0.5/unsub/c7f41a9e"),
    ("d04-rfc1918-192-168", "http://192.168.1.1/unsub/c7f41a9e"),
    ("d05-link-local-metadata", "http://169.254.169.254/latest/unsub?u=c7f41a9e"),
    ("d06-loopback-v6", "http://[::1]/unsubscribe?u=c7f41a9e"),
    ("d07-link-local-v6", "http://[fe80::1]/unsubscribe?u=c7f41a9e"),
    ("d08-unspecified-0000", "https://0.0.0.0/unsubscribe?u=c7f41a9e"),
    ("d09-dot-invalid", "http://unsubscribe.invalid/u/c7f41a9e"),
    ("d10-dot-local", "http://mailer.local/unsubscribe?u=c7f41a9e"),
    ("d11-illegal-host-chars", "https://unsub_scribe!.northwindoutfitters.com/u/c7f41a9e"),
    ("d12-decimal-ip", "http://2130706433/unsubscribe?u=c7f41a9e"),
    ("d13-empty-host", "https:///unsub?u=c7f41a9e"),
    ("d14-port-zero", "https://northwindoutfitters.com:0/email/unsubscribe?u=c7f41a9e"),
    ("d15-rfc1918-172-16", "http://172.16.4.20/unsubscribe?u=c7f41a9e"),
    ("d16-v4-mapped-loopback", "http://[::ffff:127.0.0.1]/unsubscribe?u=c7f41a9e"),
    ("d17-port-out-of-range", "https://northwindoutfitters.com:99999/email/unsubscribe?u=c7f41a9e"),
]
for cid, url in DEAD:
    add(
        id=cid,
        group=G2,
        title=f"only opt-out link: {url}",
        html=page(footer(unsub=unsub_p(url=url))),
        text=text_body(url=url),
        expected=U,
        cite=CITE_DEAD,
    )
DEAD_OK = [
    (
        "d18-public-https",
        "https://northwindoutfitters.com/email/unsubscribe?u=c7f41a9e&list=news",
        "public https host",
    ),
    (
        "d19-public-ip-literal",
        "https://52.84.150.11/email/unsubscribe?u=c7f41a9e",
        "globally routable IPv4 literal (not private, not TEST-NET)",
    ),
    (
        "d20-mailto",
        "mailto:unsubscribe@northwindoutfitters.com?subject=unsubscribe",
        "mailto: return address",
    ),
    (
        "d21-public-https-port",
        "https://prefs.northwindoutfitters.com:8443/u/c7f41a9e",
        "public host on port 8443",
    ),
]
for cid, url, what in DEAD_OK:
    add(
        id=cid,
        group=G2,
        title=f"control: {what}: {url}",
        html=page(footer(unsub=unsub_p(url=url))),
        text=text_body(url=url),
        cite=CITE_DEAD_OK,
    )
add(
    id="d22-private-ip-elsewhere",
    group=G2,
    title="control: a tracking pixel on 10.0.0.5 is irrelevant; the opt-out link is public",
    html=page(
        footer(
            extra='<img src="http://10.0.0.5/open.gif?u=c7f41a9e" width="1" height="1" alt="" style="display:block;border:0;">\n'
        )
    ),
    text=text_body(),
    cite=CITE_DEAD_OK,
)

# --------------------------------------------------------------------------------------------------
# Group 3: primary purpose (sent on transactional streams)

G3 = "3-primary-purpose"
ORDERS_FROM = "Northwind Outfitters <orders@orders.northwindoutfitters.com>"
ACCOUNT_FROM = "Northwind Outfitters <no-reply@account.northwindoutfitters.com>"
TX_FOOTER_TEXT = f"\n--\n{ADDR_TEXT}\nQuestions? Reply to this email or call 1-253-215-0148.\n"
TX_FOOTER_HTML = (
    f'<p style="margin:24px 0 0 0;font-size:12px;color:#555555;">{ADDR_HTML}<br>'
    "Questions? Reply to this email or call 1-253-215-0148.</p>"
)

AD_TEXT = (
    "WINTER CLEARANCE: 40% OFF ALL PARKAS\n\n"
    "The Summit down parka, the Ridgeline fleece and our merino base layers are 40% off for three days only.\n"
    "Shop now: https://northwindoutfitters.com/clearance?utm_source=orders\n\n"
    "Members also save an extra 10% with code LAYERUP at checkout.\n"
    "New arrivals: https://northwindoutfitters.com/new?utm_source=orders\n"
)
AD_HTML = (
    '<h1 style="font-size:28px;color:#0b3d2e;margin:0 0 12px 0;">Winter clearance: 40% off all parkas</h1>\n'
    "<p>The Summit down parka, the Ridgeline fleece and our merino base layers are 40% off for three days only.</p>\n"
    '<p><a href="https://northwindoutfitters.com/clearance?utm_source=orders" style="display:inline-block;padding:12px 20px;'
    'background-color:#0b3d2e;color:#ffffff;text-decoration:none;">Shop now</a></p>\n'
    "<p>Members also save an extra 10% with code <b>LAYERUP</b> at checkout. "
    '<a href="https://northwindoutfitters.com/new?utm_source=orders">See new arrivals</a>.</p>\n'
)
ORDER_TEXT = (
    "Order confirmation\n\nThank you for your order #NW-448213, placed January 12, 2026.\n"
    "1 x Ridgeline fleece, size M, green ........ $89.00\nShipping ....................................... $0.00\n"
    "Total charged to Visa ending 4417 ............ $89.00\n"
    "We'll email you when it ships. Order details: https://northwindoutfitters.com/account/orders/NW-448213\n"
)
ORDER_HTML = (
    '<h2 style="font-size:18px;margin:16px 0 8px 0;">Order confirmation</h2>\n'
    "<p>Thank you for your order #NW-448213, placed January 12, 2026.</p>\n"
    '<table role="presentation" cellpadding="4"><tr><td>1 x Ridgeline fleece, size M, green</td><td align="right">$89.00</td></tr>'
    '<tr><td>Shipping</td><td align="right">$0.00</td></tr><tr><td><b>Total charged to Visa ending 4417</b></td>'
    '<td align="right"><b>$89.00</b></td></tr></table>\n'
    '<p>We\'ll email you when it ships. <a href="https://northwindoutfitters.com/account/orders/NW-448213">Order details</a></p>\n'
)


def tx_html(inner: str, title: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>{title}</title></head>
<body style="margin:0;padding:24px;background-color:#ffffff;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:22px;color:#222222;">
<div style="max-width:600px;margin:0 auto;">
{inner}{TX_FOOTER_HTML}
</div>
</body>
</html>
"""


def pp(cid, sender, subject, text, html, expected, allow, cite, title):
    add(
        id=cid,
        group=G3,
        title=title,
        sender=sender,
        subject=subject,
        from_=ORDERS_FROM if sender == "orders" else ACCOUNT_FROM,
        text=text + TX_FOOTER_TEXT,
        html=tx_html(html, subject),
        expected=expected,
        allow=allow,
        cite=cite,
    )


RECEIPT_XSELL_TEXT = (
    ORDER_TEXT
    + "\nYou might also like the Summit down parka: https://northwindoutfitters.com/p/summit-parka\n"
)
RECEIPT_XSELL_HTML = ORDER_HTML + (
    '<p style="font-size:13px;color:#555555;">You might also like the '
    '<a href="https://northwindoutfitters.com/p/summit-parka">Summit down parka</a>.</p>\n'
)
SHIP_TEXT = (
    "Your order has shipped\n\nOrder #NW-448213 left our Tacoma warehouse on January 13, 2026.\n"
    "Carrier: UPS, tracking number 1Z 999 AA1 01 2345 6784\n"
    "Track it: https://northwindoutfitters.com/account/orders/NW-448213/tracking\nExpected delivery: January 16.\n"
)
SHIP_HTML = (
    '<h2 style="font-size:18px;margin:0 0 8px 0;">Your order has shipped</h2>\n'
    "<p>Order #NW-448213 left our Tacoma warehouse on January 13, 2026.</p>\n"
    "<p>Carrier: UPS, tracking number 1Z 999 AA1 01 2345 6784<br>Expected delivery: January 16.</p>\n"
    '<p><a href="https://northwindoutfitters.com/account/orders/NW-448213/tracking">Track your package</a></p>\n'
)
ACCT_TEXT = (
    "Your account\n\nThe password for your Northwind Outfitters account (casey.morgan@outlook.com) was changed on "
    "January 13, 2026 at 9:41 AM Pacific.\nIf this wasn't you, reset it now: https://northwindoutfitters.com/account/reset\n"
)
ACCT_HTML = (
    '<h2 style="font-size:18px;margin:0 0 8px 0;">Your account</h2>\n'
    "<p>The password for your Northwind Outfitters account (casey.morgan@outlook.com) was changed on January 13, 2026 "
    "at 9:41 AM Pacific.</p>\n"
    '<p>If this wasn\'t you, <a href="https://northwindoutfitters.com/account/reset">reset it now</a>.</p>\n'
)
PURE_AD_TEXT = (
    "Casey, picked for you\n\nNew this week: the Summit down parka in glacier blue, the Ridgeline fleece in moss,\n"
    "and merino base layers from $39. Shop now: https://northwindoutfitters.com/new?utm_source=account\n"
)
PURE_AD_HTML = (
    '<h2 style="font-size:22px;margin:0 0 8px 0;">Casey, picked for you</h2>\n'
    "<p>New this week: the Summit down parka in glacier blue, the Ridgeline fleece in moss, "
    "and merino base layers from $39.</p>\n"
    '<p><a href="https://northwindoutfitters.com/new?utm_source=account" style="display:inline-block;padding:12px 20px;'
    'background-color:#0b3d2e;color:#ffffff;text-decoration:none;">Shop now</a></p>\n'
)

CNA = ["CATEGORY_NOT_ALLOWED"]
CS_ALLOW = ["CANSPAM_UNSUBSCRIBE", "CANSPAM_AD_LABEL"]
pp(
    "p01-orders-ad-first-then-order",
    "orders",
    "Your order #NW-448213 is confirmed",
    AD_TEXT + "\n" + ORDER_TEXT,
    AD_HTML + ORDER_HTML,
    CNA,
    CS_ALLOW,
    CITE_PP + "; orders stream may not send commercial mail",
    "orders stream: advertisement first, order confirmation after it",
)
pp(
    "p02-orders-pure-ad-neutral-subject",
    "orders",
    "Your account",
    PURE_AD_TEXT,
    PURE_AD_HTML,
    CNA,
    CS_ALLOW + ["CANSPAM_DECEPTIVE_SUBJECT"],
    CITE_PP_AD + "; orders stream may not send commercial mail",
    "orders stream: pure advertisement under the neutral subject 'Your account'",
)
pp(
    "p03-orders-receipt-with-cross-sell",
    "orders",
    "Your order #NW-448213 is confirmed",
    RECEIPT_XSELL_TEXT,
    RECEIPT_XSELL_HTML,
    [],
    [],
    CITE_PP_OK,
    "control: receipt first, one cross-sell line at the end",
)
pp(
    "p04-orders-shipping-notice",
    "orders",
    "Your order #NW-448213 has shipped",
    SHIP_TEXT,
    SHIP_HTML,
    [],
    [],
    "control: 15 U.S.C. 7702(17)(A)(v): delivery of goods under a transaction -> transactional",
    "control: shipping notice",
)
pp(
    "p05-orders-account-notice",
    "orders",
    "Your account",
    ACCT_TEXT,
    ACCT_HTML,
    [],
    [],
    "control: 15 U.S.C. 7702(17)(A)(iii): notice about the recipient's account -> transactional",
    "control: password-change notice under the subject 'Your account'",
)
pp(
    "p06-accounts-ad-first-then-order",
    "accounts",
    "Your order #NW-448213 is confirmed",
    AD_TEXT + "\n" + ORDER_TEXT,
    AD_HTML + ORDER_HTML,
    ["CANSPAM_UNSUBSCRIBE", "CANSPAM_AD_LABEL"],
    [],
    CITE_PP + "; commercial mail needs 15 U.S.C. 7704(a)(3), (a)(5)(A)(i)-(ii)",
    "accounts stream (may send marketing): advertisement first -> commercial without opt-out or ad label",
)
pp(
    "p07-accounts-pure-ad-neutral-subject",
    "accounts",
    "Your account",
    PURE_AD_TEXT,
    PURE_AD_HTML,
    ["CANSPAM_UNSUBSCRIBE", "CANSPAM_AD_LABEL"],
    ["CANSPAM_DECEPTIVE_SUBJECT"],
    CITE_PP_AD + "; commercial mail needs 15 U.S.C. 7704(a)(3), (a)(5)(A)(i)-(ii)",
    "accounts stream: pure advertisement under 'Your account'",
)
pp(
    "p08-accounts-receipt-with-cross-sell",
    "accounts",
    "Your order #NW-448213 is confirmed",
    RECEIPT_XSELL_TEXT,
    RECEIPT_XSELL_HTML,
    [],
    [],
    CITE_PP_OK,
    "control: accounts stream, receipt first, one cross-sell line at the end",
)

# --------------------------------------------------------------------------------------------------
# Group 6: malformed To / Cc addresses (compliant marketing message otherwise)

G6 = "6-recipient"
IR = ["INVALID_RECIPIENT"]
add(
    id="r01-cc-double-at",
    group=G6,
    title="Cc: not an address@@x",
    cc="not an address@@x",
    html=page(footer()),
    text=text_body(),
    expected=IR,
    cite=CITE_RCPT,
)
add(
    id="r02-to-empty-domain",
    group=G6,
    title='To: "Bob" <bob@>',
    to='"Bob" <bob@>',
    html=page(footer()),
    text=text_body(),
    expected=IR,
    cite=CITE_RCPT,
)
add(
    id="r03-to-double-dot-local",
    group=G6,
    title="To: casey..morgan@outlook.com (dot-atom forbids '..')",
    to="casey..morgan@outlook.com",
    html=page(footer()),
    text=text_body(),
    expected=IR,
    cite=CITE_RCPT,
)
add(
    id="r04-to-bare-no-domain",
    group=G6,
    title="To: jordan@",
    to="jordan@",
    html=page(footer()),
    text=text_body(),
    expected=IR,
    cite=CITE_RCPT,
)
add(
    id="r05-cc-empty-local",
    group=G6,
    title="Cc: <@outlook.com>",
    cc="<@outlook.com>",
    html=page(footer()),
    text=text_body(),
    expected=IR,
    cite=CITE_RCPT,
)
add(
    id="r06-to-space-in-domain",
    group=G6,
    title="To: Bob <bob@exam ple.com>",
    to="Bob <bob@exam ple.com>",
    html=page(footer()),
    text=text_body(),
    expected=IR,
    cite=CITE_RCPT,
)
add(
    id="r07-cc-unterminated-angle",
    group=G6,
    title="Cc: Jordan Lee <jordan.lee@yahoo.com (no closing >)",
    cc="Jordan Lee <jordan.lee@yahoo.com",
    html=page(footer()),
    text=text_body(),
    expected=IR,
    cite=CITE_RCPT,
)
add(
    id="r08-valid-to-and-cc",
    group=G6,
    title="control: To with display name, Cc with two addresses",
    cc="jordan.lee@yahoo.com, Pat Kim <pat.kim@icloud.com>",
    html=page(footer()),
    text=text_body(),
    cite=CITE_RCPT_OK,
)
add(
    id="r09-quoted-comma-display-name",
    group=G6,
    title='control: To: "Morgan, Casey" <casey.morgan@outlook.com>',
    to='"Morgan, Casey" <casey.morgan@outlook.com>',
    html=page(footer()),
    text=text_body(),
    cite=CITE_RCPT_OK,
)
add(
    id="r10-apostrophe-plus-tag",
    group=G6,
    title="control: Cc: Pat O'Brien <pat.o'brien@yahoo.com>, To with +tag",
    to="casey.morgan+news@outlook.com",
    cc="Pat O'Brien <pat.o'brien@yahoo.com>",
    html=page(footer()),
    text=text_body(),
    cite=CITE_RCPT_OK + " (' and + are atext)",
)
add(
    id="r11-group-syntax",
    group=G6,
    title="control: To: Trail crew: casey.morgan@outlook.com, jordan.lee@yahoo.com;",
    to="Trail crew: casey.morgan@outlook.com, jordan.lee@yahoo.com;",
    html=page(footer()),
    text=text_body(),
    cite=CITE_RCPT_OK + " (RFC 5322 3.4 group)",
)


# ==================================================================================================
# ROUND 2 (ids r2-*). Written from the law like round 1, without reading the gateway's rules or corpus.
# Same conventions: everything a lawful message needs is present and visible unless the case is about it.
# Label decisions where the law leaves room are written into each case's title or cite.


LABEL_SENTENCE = "This email is an advertisement from Northwind Outfitters."
SUBJ_NOLABEL = "Winter layers are 25% off this week"
H1_PROMO = (
    '<h1 style="margin:0 0 16px 0;font-size:28px;line-height:34px;color:#0b3d2e;">Winter layers, 25% off</h1>'
)
CITE_AD = (
    "15 U.S.C. 7704(a)(5)(A)(i): 'clear and conspicuous identification that the message is an advertisement or "
    "solicitation'. Decision (as round 1): promotional content alone ('25% off') is not that identification"
)
CITE_AD_OK = "control: 15 U.S.C. 7704(a)(5)(A)(i) met: the reader sees 'advertisement'"
CITE_HDR = (
    "15 U.S.C. 7704(a)(1): header information (7702(8): originating address and 'any other information that "
    "appears in the line identifying ... a person initiating the message') materially false or misleading; "
    "CANSPAM_FROM_DOMAIN is the only code for (a)(1)"
)
CITE_DS = (
    "15 U.S.C. 7704(a)(2): subject heading likely to mislead a recipient, acting reasonably, about a material fact "
    "regarding the contents or subject matter of the message"
)
CITE_316_5 = (
    "16 CFR 316.5: no fee, no information beyond the email address and opt-out preferences, no step beyond a reply "
    "email or visiting a single web page; 15 U.S.C. 7704(a)(3)(A)"
)
CITE_ADDR_BAD = (
    "15 U.S.C. 7704(a)(5)(A)(iii) + 16 CFR 316.2(p): a valid physical postal address is the sender's current street "
    "address, a USPS-registered PO box or a CMRA-registered private mailbox; this is none of them"
)
CITE_ADDR_OK = (
    "control: 16 CFR 316.2(p) valid physical postal address (street, USPS PO box, or CMRA private mailbox: "
    "'PMB' or '#', 65 FR 49917); registration is assumed accurate, text cannot show otherwise"
)


def no_label(html: str, repl: str = "") -> str:
    assert LABEL_SENTENCE in html
    return html.replace(LABEL_SENTENCE, repl)


def mime_b64(data: bytes, width: int = 76) -> str:
    s = base64.b64encode(data).decode("ascii")
    return "\n".join(s[i : i + width] for i in range(0, len(s), width))


def qp(data: bytes, soft_after: tuple[bytes, ...] = ()) -> str:
    """Quoted-printable (RFC 2045 6.7) with extra soft line breaks forced after each `soft_after` string."""
    marks: set[int] = set()
    for needle in soft_after:
        i = data.find(needle)
        assert i >= 0, needle
        while i >= 0:
            marks.add(i + len(needle))
            i = data.find(needle, i + 1)
    out: list[str] = []
    pos = 0
    for raw in data.replace(b"\r\n", b"\n").split(b"\n"):
        toks: list[str | None] = []
        for j, b in enumerate(raw):
            if pos + j in marks:
                toks.append(None)
            if b in (32, 9) and j == len(raw) - 1:
                toks.append(f"={b:02X}")
            elif 33 <= b <= 126 and b != 61 or b in (32, 9):
                toks.append(chr(b))
            else:
                toks.append(f"={b:02X}")
        pos += len(raw) + 1
        cur = ""
        for t in toks:
            if t is None or len(cur) + len(t) > 75:
                out.append(cur + "=")
                cur = ""
            if t is not None:
                cur += t
        out.append(cur)
    return "\n".join(out)


def rebrand(html: str, brand: str, domain: str) -> str:
    return html.replace("Northwind Outfitters", brand).replace("northwindoutfitters.com", domain)


# --------------------------------------------------------------------------------------------------
# Group r2-7: evasive content. Hiding techniques round 1 did not use, the ad label hidden or negated,
# encodings and MIME structures (lawful ones must pass).

G7 = "r2-7-evasive"
CITE_U_NOTSHOWN = CITE_U + "; content a client does not render is not displayed"

add(
    id="r2-e01-template-element-unsub",
    group=G7,
    title="opt-out only inside <template> (inert, never rendered: HTML Living Standard 4.12.3)",
    html=page(footer(unsub='<template id="optout-tpl">' + unsub_p() + "</template>")),
    expected=U,
    cite=CITE_U_NOTSHOWN,
)
add(
    id="r2-e02-html-comment-unsub",
    group=G7,
    title="opt-out only inside an HTML comment <!-- ... -->",
    html=page(footer(unsub="<!-- " + unsub_p() + " -->")),
    expected=U,
    cite=CITE_U_NOTSHOWN,
)
add(
    id="r2-e03-mso-conditional-unsub",
    group=G7,
    title="opt-out only inside <!--[if mso]> ... <![endif]--> (decision: shown by Outlook for Windows only, "
    "a comment to every other client, so not clearly and conspicuously displayed to the recipients)",
    html=page(footer(unsub="<!--[if mso]>" + unsub_p() + "<![endif]-->")),
    expected=U,
    cite=CITE_U_NOTSHOWN,
)
add(
    id="r2-e04-sr-only-clip-unsub",
    group=G7,
    title="visually-hidden (sr-only) pattern: position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0,0,0,0)",
    html=page(
        footer(
            unsub=unsub_p(
                p_style="position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;"
                "clip:rect(0,0,0,0);white-space:nowrap;border:0;"
            )
        )
    ),
    expected=U,
    cite=CITE_U + " (as rendered by CSS-capable clients, e.g. Apple Mail)",
)
add(
    id="r2-e05-text-indent-unsub",
    group=G7,
    title="text-indent:-9999px;white-space:nowrap;overflow:hidden on the one-line opt-out paragraph",
    html=page(
        footer(unsub=unsub_p(p_style="margin:0;text-indent:-9999px;white-space:nowrap;overflow:hidden;"))
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="r2-e06-offscreen-absolute-unsub",
    group=G7,
    title="position:absolute;left:-9999px;top:-9999px (moved off the canvas)",
    html=page(footer(unsub=unsub_p(p_style="position:absolute;left:-9999px;top:-9999px;margin:0;"))),
    expected=U,
    cite=CITE_U + " (as rendered by CSS-capable clients, e.g. Apple Mail)",
)
add(
    id="r2-e07-color-transparent-unsub",
    group=G7,
    title="color:transparent on the opt-out paragraph and link",
    html=page(
        footer(
            unsub=unsub_p(
                p_style="margin:0;color:transparent;", a_style="color:transparent;text-decoration:none;"
            )
        )
    ),
    expected=U,
    cite=CITE_U,
)
add(
    id="r2-e08-rgba-alpha0-address",
    group=G7,
    title="address colour rgba(85,85,85,0): fully transparent text",
    html=page(footer(addr=addr_p(p_style="margin:0 0 8px 0;color:rgba(85,85,85,0);"))),
    expected=A,
    cite=CITE_A,
)
add(
    id="r2-e09-last-child-rule-unsub",
    group=G7,
    title="<style> .footer p:last-child{display:none}: the opt-out is the footer's last paragraph",
    html=page(footer(), css=".footer p:last-child { display: none; }"),
    expected=U,
    cite=CITE_U,
)
add(
    id="r2-e10-attribute-selector-address",
    group=G7,
    title='<style> [data-role="postal"]{display:none} on the address paragraph',
    html=page(
        footer(addr=addr_p(p_attrs='class="addr" data-role="postal"')),
        css='[data-role="postal"] { display: none; }',
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="r2-e11-details-collapsed-unsub",
    group=G7,
    title="opt-out inside a closed <details> under 'Email settings' (decision: content behind a click is not "
    "clearly and conspicuously displayed)",
    html=page(
        footer(
            unsub='<details><summary style="cursor:pointer;">Email settings</summary>'
            + unsub_p()
            + "</details>"
        )
    ),
    expected=U,
    cite=CITE_U + "; HTML 4.11.1: a closed details element shows only its summary",
)
add(
    id="r2-e12-details-open-control",
    group=G7,
    title="control: the same <details> with the open attribute: the opt-out is shown",
    html=page(
        footer(
            unsub='<details open><summary style="cursor:pointer;">Email settings</summary>'
            + unsub_p()
            + "</details>"
        )
    ),
    cite=CITE_OK,
)
add(
    id="r2-e13-address-only-in-title",
    group=G7,
    title="postal address only in <title> (mail clients do not show the HTML title)",
    html=page(
        footer(addr=""),
        title="Winter layers are 25% off | Northwind Outfitters, 1450 Harbor Blvd, Suite 210, Tacoma, WA 98402",
    ),
    expected=A,
    cite=CITE_A,
)
add(
    id="r2-e14-unsub-only-in-alt-of-1px-image",
    group=G7,
    title="the only opt-out is a linked 1x1 spacer image whose alt text says Unsubscribe",
    html=page(
        footer(
            unsub=f'<p class="optout" style="margin:0;"><a href="{UNSUB_HTML}"><img src="https://northwindoutfitters.com/img/spacer.gif" '
            'width="1" height="1" alt="Unsubscribe" style="display:block;border:0;"></a></p>'
        )
    ),
    expected=U,
    cite=CITE_U + "; alt text is shown only when the image is not",
)

FOOT_NO_UNSUB_HTML = page(footer(unsub=""))
add(
    id="r2-e15-unsub-only-in-attachment",
    group=G7,
    title="multipart/mixed: HTML body has no opt-out; it is only in a text/plain attachment email-preferences.txt",
    html=None,
    mime=(
        'Content-Type: multipart/mixed; boundary="=_r2e15_mix"\n\n'
        "--=_r2e15_mix\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        f"{FOOT_NO_UNSUB_HTML}\n"
        '--=_r2e15_mix\nContent-Type: text/plain; charset=utf-8; name="email-preferences.txt"\n'
        'Content-Disposition: attachment; filename="email-preferences.txt"\nContent-Transfer-Encoding: 8bit\n\n'
        f"Don't want these emails? Unsubscribe: {UNSUB}\n"
        "--=_r2e15_mix--\n"
    ),
    expected=U,
    cite=CITE_U + "; an attachment the reader must open is not displayed in the message",
)
add(
    id="r2-e16-unsub-only-in-text-alternative",
    group=G7,
    title="multipart/alternative: text part has the opt-out, the HTML part (what HTML clients show) has none",
    html=FOOT_NO_UNSUB_HTML,
    text=text_body(),
    expected=U,
    cite=CITE_U + "; RFC 2046 5.1.4 (the client shows the last alternative it can display: the HTML)",
)
add(
    id="r2-e17-unsub-only-in-attached-rfc822",
    group=G7,
    title="multipart/mixed: HTML body has no opt-out; it is only inside an attached message/rfc822",
    html=None,
    mime=(
        'Content-Type: multipart/mixed; boundary="=_r2e17_mix"\n\n'
        "--=_r2e17_mix\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        f"{FOOT_NO_UNSUB_HTML}\n"
        "--=_r2e17_mix\nContent-Type: message/rfc822\n"
        'Content-Disposition: attachment; filename="email-preferences.eml"\n\n'
        "From: Northwind Outfitters <news@mail.northwindoutfitters.com>\nTo: casey.morgan@outlook.com\n"
        "Subject: Your email preferences\nDate: Mon, 12 Jan 2026 09:00:00 -0800\n"
        "Message-ID: <prefs.c7f41a9e@mail.northwindoutfitters.com>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"Don't want these emails? Unsubscribe: {UNSUB}\n"
        "--=_r2e17_mix--\n"
    ),
    expected=U,
    cite=CITE_U + "; an attached message is an attachment, not the displayed message",
)
add(
    id="r2-e18-says-not-an-advertisement",
    group=G7,
    title="no label in the subject; body says 'This is not an advertisement' above a 25%-off offer",
    subject=SUBJ_NOLABEL,
    html=no_label(page(footer()), "This is not an advertisement. It is a note from our founder, Dana Reyes."),
    expected=["CANSPAM_AD_LABEL"],
    cite=CITE_AD + "; the word is there but it denies, not identifies",
)
add(
    id="r2-e19-ad-label-only-in-hidden-preheader",
    group=G7,
    title="no label in the subject; 'This email is an advertisement' only in a display:none preheader",
    subject=SUBJ_NOLABEL,
    html=no_label(
        page(
            footer(),
            pre='<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">'
            + LABEL_SENTENCE
            + "</div>\n",
        ).replace(LABEL_SENTENCE, "@@KEEP@@", 1)
    ).replace("@@KEEP@@", LABEL_SENTENCE),
    expected=["CANSPAM_AD_LABEL"],
    cite=CITE_AD + "; hidden text is not conspicuous",
)
add(
    id="r2-e20-ad-label-only-in-alt",
    group=G7,
    title="no label in the subject; 'Advertisement' only as the alt text of a 1x1 tracking image",
    subject=SUBJ_NOLABEL,
    html=no_label(
        page(
            footer(
                extra='<img src="https://northwindoutfitters.com/o.gif?u=c7f41a9e" width="1" height="1" '
                'alt="Advertisement" style="display:block;border:0;">\n'
            )
        )
    ),
    expected=["CANSPAM_AD_LABEL"],
    cite=CITE_AD + "; alt text of a shown image is not displayed",
)
add(
    id="r2-e21-aria-hidden-visible-control",
    group=G7,
    title="control: aria-hidden=true on the opt-out paragraph (hides it from assistive technology only; it is still painted)",
    html=page(footer(unsub=unsub_p(p_attrs='class="optout" aria-hidden="true"'))),
    cite=CITE_OK + " (WAI-ARIA 1.2 aria-hidden: exposure to accessibility APIs, not rendering)",
)
add(
    id="r2-e22-zero-width-split-unsub-control",
    group=G7,
    title="control: link text 'Un\\u200bsub\\u200bscribe' (zero-width spaces): the reader sees 'Unsubscribe'",
    html=page(
        footer(
            unsub=f'<p class="optout" style="margin:0;">Don\'t want these emails? <a href="{UNSUB_HTML}" '
            'style="color:#555555;">Un\u200bsub\u200bscribe</a>.</p>'
        )
    ),
    cite=CITE_OK + "; 7704(a)(3),(a)(5)(A)(ii) judged by what the recipient sees",
)
add(
    id="r2-e23-soft-hyphen-ad-label-control",
    group=G7,
    title="control: no label in the subject; body 'adver&shy;tise&shy;ment' (soft hyphens, invisible unless the word wraps)",
    subject=SUBJ_NOLABEL,
    html=no_label(page(footer()), "This email is an adver&shy;tise&shy;ment from Northwind Outfitters."),
    cite=CITE_AD_OK,
)
add(
    id="r2-e24-entity-encoded-footer-control",
    group=G7,
    title="control: no label in the subject; label, opt-out and address written with character references "
    "(&#97;dvertisement, &#85;nsubscribe, &nbsp;)",
    subject=SUBJ_NOLABEL,
    html=no_label(
        page(
            footer(
                addr='<p class="addr" style="margin:0 0 8px 0;">Northwind&nbsp;Outfitters<br>1450&#160;Harbor&#32;Blvd, '
                "Suite&nbsp;210<br>Tacoma, WA&nbsp;98402</p>",
                unsub=f'<p class="optout" style="margin:0;">Don&#x27;t want these emails? <a href="{UNSUB_HTML}" '
                'style="color:#555555;">&#85;nsubscribe</a>.</p>',
            )
        ),
        "This email is an &#97;dvertisement from Northwind Outfitters.",
    ),
    cite=CITE_OK + "; " + CITE_AD_OK,
)
add(
    id="r2-e25-homoglyph-ad-label-control",
    group=G7,
    title="control: no label in the subject; body 'advertis\\u0435ment' with a Cyrillic e: reads 'advertisement' to the "
    "recipient (decision: identification is judged as read, a filter-evading spelling does not un-label it)",
    subject=SUBJ_NOLABEL,
    html=no_label(page(footer()), "This email is an advertis\u0435ment from Northwind Outfitters."),
    cite=CITE_AD_OK,
)
add(
    id="r2-e26-base64-html-control",
    group=G7,
    title="control: compliant HTML body sent with Content-Transfer-Encoding: base64",
    html=None,
    mime="Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
    + mime_b64(page(footer()).encode("utf-8"))
    + "\n",
    cite=CITE_OK + "; RFC 2045 6.8",
)
add(
    id="r2-e27-quoted-printable-soft-breaks-control",
    group=G7,
    title="control: quoted-printable HTML with soft line breaks inside 'adver|tisement', 'Unsub|scribe', "
    "'Harbor Bl|vd' and the opt-out URL",
    html=None,
    mime="Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
    + qp(page(footer()).encode("utf-8"), (b"adver", b">Unsub", b"Harbor Bl", b"email/unsub"))
    + "\n",
    cite=CITE_OK + "; RFC 2045 6.7 rule 5 (a soft line break is not part of the text)",
)
add(
    id="r2-e28-rfc2047-b-subject-label-only-control",
    group=G7,
    title="control: label only in the subject, RFC 2047 B-encoded (=?UTF-8?B?...?=); body has no label",
    subject="=?UTF-8?B?" + base64.b64encode(AD_SUBJECT.encode()).decode() + "?=",
    html=no_label(page(footer())),
    cite=CITE_AD_OK + " (subject, decoded per RFC 2047)",
)
add(
    id="r2-e29-windows-1252-qp-control",
    group=G7,
    title="control: compliant HTML in charset=windows-1252, quoted-printable (curly quote =92, dash =97)",
    html=None,
    mime="Content-Type: text/html; charset=windows-1252\nContent-Transfer-Encoding: quoted-printable\n\n"
    + qp(
        page(
            footer(
                unsub=f'<p class="optout" style="margin:0;">Don\u2019t want these emails? <a href="{UNSUB_HTML}" '
                'style="color:#555555;">Unsubscribe</a> \u2014 it takes one click.</p>'
            )
        )
        .replace("charset=utf-8", "charset=windows-1252")
        .encode("cp1252")
    )
    + "\n",
    cite=CITE_OK,
)
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
add(
    id="r2-e30-nested-multipart-control",
    group=G7,
    title="control: multipart/mixed > multipart/related > multipart/alternative (text, HTML with a cid: logo), "
    "inline PNG, PDF attachment",
    html=None,
    mime=(
        'Content-Type: multipart/mixed; boundary="=_r2e30_mix"\n\n'
        "--=_r2e30_mix\n"
        'Content-Type: multipart/related; boundary="=_r2e30_rel"; type="multipart/alternative"\n\n'
        "--=_r2e30_rel\n"
        'Content-Type: multipart/alternative; boundary="=_r2e30_alt"\n\n'
        "--=_r2e30_alt\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        f"{text_body()}\n"
        "--=_r2e30_alt\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        + page(
            footer(),
            pre='<div style="text-align:center;padding:8px;"><img src="cid:logo.r2e30@northwindoutfitters.com" '
            'width="120" height="40" alt="Northwind Outfitters"></div>\n',
        )
        + "\n--=_r2e30_alt--\n"
        "--=_r2e30_rel\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n"
        'Content-ID: <logo.r2e30@northwindoutfitters.com>\nContent-Disposition: inline; filename="logo.png"\n\n'
        f"{PNG_1PX}\n"
        "--=_r2e30_rel--\n"
        '--=_r2e30_mix\nContent-Type: application/pdf; name="winter-lookbook.pdf"\n'
        'Content-Disposition: attachment; filename="winter-lookbook.pdf"\nContent-Transfer-Encoding: base64\n\n'
        + mime_b64(
            b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n"
        )
        + "\n--=_r2e30_mix--\n"
    ),
    cite=CITE_OK + "; RFC 2046 5.1.3, 5.1.4; RFC 2387",
)
add(
    id="r2-e31-rfc2047-split-q-words-subject-control",
    group=G7,
    title="control: subject label split over two Q encoded-words (=?UTF-8?Q?Adverti?= =?UTF-8?Q?sement=3A_...?=); "
    "body has no label",
    subject="=?UTF-8?Q?Adverti?= =?UTF-8?Q?sement=3A_Winter_layers_are_25=25_off_this_week?=",
    html=no_label(page(footer())),
    cite=CITE_AD_OK + " (RFC 2047 6.2: white space between adjacent encoded-words is ignored)",
)
add(
    id="r2-e32-font-color-attribute-white-unsub",
    group=G7,
    title='legacy <font color="#FFFFFF"> around the opt-out sentence in a white cell',
    html=page(
        footer(
            unsub=f'<p class="optout" style="margin:0;"><font color="#FFFFFF">Don\'t want these emails? '
            f'<a href="{UNSUB_HTML}" style="color:inherit;text-decoration:none;">Unsubscribe</a>.</font></p>'
        )
    ),
    expected=U,
    cite=CITE_U + "; HTML 4.01 15.2.2 font color",
)

# --------------------------------------------------------------------------------------------------
# Group r2-8: header information (7704(a)(1)) and subject lines (7704(a)(2))

G8 = "r2-8-headers"
FD = ["CANSPAM_FROM_DOMAIN"]
DS = ["CANSPAM_DECEPTIVE_SUBJECT"]
NW_MSGID = "mail.northwindoutfitters.com"

add(
    id="r2-h01-display-name-impersonates-amazon",
    group=G8,
    title='From: "Amazon.com" <news@mail.northwindoutfitters.com>: the from line names a company that did not send it',
    from_='"Amazon.com" <news@mail.northwindoutfitters.com>',
    html=page(footer()),
    text=text_body(),
    expected=FD,
    cite=CITE_HDR + "; (a)(1)(B) protects only a from line that accurately identifies the initiator",
)
add(
    id="r2-h02-from-domain-of-another-company",
    group=G8,
    title="From: Northwind Outfitters <news@rei.com>: originating address on a domain Northwind does not hold",
    from_="Northwind Outfitters <news@rei.com>",
    msgid_domain=NW_MSGID,
    html=page(footer()),
    text=text_body(),
    expected=FD,
    cite=CITE_HDR,
)
add(
    id="r2-h03-reply-to-another-brand",
    group=G8,
    title="Reply-To: Patagonia Customer Service <help@patagonia.com> on a Northwind ad",
    headers=[("Reply-To", "Patagonia Customer Service <help@patagonia.com>")],
    html=page(footer()),
    text=text_body(),
    expected=FD,
    cite=CITE_HDR + "; 7704(a)(6): impairs the recipient's ability to respond to the initiator",
)
add(
    id="r2-h04-from-absent",
    group=G8,
    title="no From field at all (RFC 5322 3.6 requires one); decision: concealing the initiator is materially "
    "misleading header information under 7704(a)(6); exit 2 would mean the message is not judged",
    from_=None,
    msgid_domain=NW_MSGID,
    html=page(footer()),
    text=text_body(),
    expected=FD,
    cite=CITE_HDR + "; 7704(a)(6) 'concealment of header information'",
)
add(
    id="r2-h05-subject-absent-control",
    group=G8,
    title="control: no Subject field (RFC 5322 3.6.5: optional); ad label in the body",
    subject=None,
    html=page(footer()),
    text=text_body(),
    cite="control: 15 U.S.C. 7704(a)(2) bans misleading subjects, not their absence; (a)(5)(A)(i) met in the body",
)
add(
    id="r2-h06-re-on-first-message",
    group=G8,
    title="Subject: RE: Your question about the Summit parka, no In-Reply-To/References, first message",
    subject="RE: Your question about the Summit parka",
    html=page(footer()),
    text=text_body(),
    expected=DS,
    cite=CITE_DS + " (a fake reply implies a conversation the recipient started)",
)
add(
    id="r2-h07-fwd-on-first-message",
    group=G8,
    title="Subject: Fwd: Winter layers are 25% off this week, no thread, bulk ad",
    subject="Fwd: Winter layers are 25% off this week",
    html=page(footer()),
    text=text_body(),
    expected=DS,
    cite=CITE_DS + " (a fake forward implies a personal message from someone the recipient knows)",
)
REPLY_P = (
    '<p style="margin:0 0 16px 0;">Hi Casey, thanks for your question about sizing. The Ridgeline fleece runs true to '
    "size; if you are between sizes, size up so it layers over a base layer. Both are part of this week's sale.</p>"
)
add(
    id="r2-h08-real-reply-control",
    group=G8,
    title="control: Subject: Re: Your question about sizing, with In-Reply-To and References to the customer's message, "
    "body answers it",
    subject="Re: Your question about sizing",
    headers=[
        ("In-Reply-To", "<CAHv7Yx3kq2=T9wzM1c@mail.gmail.com>"),
        ("References", "<CAHv7Yx3kq2=T9wzM1c@mail.gmail.com>"),
    ],
    html=page(footer()).replace(H1_PROMO, REPLY_P),
    cite="control: 15 U.S.C. 7704(a)(2): a true reply subject is not misleading; RFC 5322 3.6.4",
)
add(
    id="r2-h09-subject-package-not-delivered",
    group=G8,
    title="Subject: Your package could not be delivered, on a winter-sale ad (no package, no delivery)",
    subject="Your package could not be delivered",
    html=page(footer()),
    text=text_body(),
    expected=DS,
    cite=CITE_DS,
)
add(
    id="r2-h10-subject-fake-order-shipped",
    group=G8,
    title="Subject: Your order #NW-552190 has shipped, on a pure ad (no such order)",
    subject="Your order #NW-552190 has shipped",
    html=page(footer()),
    text=text_body(),
    expected=DS,
    cite=CITE_DS,
)
add(
    id="r2-h11-subject-account-suspended",
    group=G8,
    title="Subject: Action required: your account will be suspended, on a pure ad",
    subject="Action required: your account will be suspended",
    html=page(footer()),
    text=text_body(),
    expected=DS,
    cite=CITE_DS,
)
add(
    id="r2-h12-subject-reminder-control",
    group=G8,
    title="control: Subject: Reminder: Advertisement: winter layers 25% off ends Sunday (a true reminder, not a reply)",
    subject="Reminder: Advertisement: winter layers 25% off ends Sunday",
    html=page(footer()),
    text=text_body(),
    cite="control: 15 U.S.C. 7704(a)(2): subject matches the contents",
)
add(
    id="r2-h13-rfc2047-encoded-re",
    group=G8,
    title="Subject: =?UTF-8?Q?RE=3A_Your_question_about_the_Summit_parka?= (a fake reply, encoded), no thread",
    subject="=?UTF-8?Q?RE=3A_Your_question_about_the_Summit_parka?=",
    html=page(footer()),
    text=text_body(),
    expected=DS,
    cite=CITE_DS + "; RFC 2047: the recipient sees 'RE: ...'",
)
add(
    id="r2-h14-person-at-brand-display-name-control",
    group=G8,
    title='control: From: "Dana at Northwind Outfitters" <dana@mail.northwindoutfitters.com>',
    from_='"Dana at Northwind Outfitters" <dana@mail.northwindoutfitters.com>',
    html=page(footer()),
    text=text_body(),
    cite="control: 15 U.S.C. 7704(a)(1)(B): a from line that accurately identifies the initiator",
)
add(
    id="r2-h15-transactional-from-spoofs-ups",
    group=G8,
    sender="orders",
    title='orders stream, a true shipping notice, but From: "UPS Quantum View" <tracking@ups.com>',
    from_='"UPS Quantum View" <tracking@ups.com>',
    msgid_domain="orders.northwindoutfitters.com",
    subject="Your order #NW-448213 has shipped",
    html=tx_html(SHIP_HTML, "Your order #NW-448213 has shipped"),
    text=SHIP_TEXT + TX_FOOTER_TEXT,
    expected=FD,
    cite=CITE_HDR + "; (a)(1) covers transactional or relationship messages too",
)
add(
    id="r2-h16-subject-restocked-control",
    group=G8,
    title="control: Subject: Restocked: Summit down parka, plus 25% off winter layers (starts with 'Re', is no reply)",
    subject="Restocked: Summit down parka, plus 25% off winter layers",
    html=page(footer()),
    text=text_body(),
    cite="control: 15 U.S.C. 7704(a)(2): subject matches the contents",
)

# --------------------------------------------------------------------------------------------------
# Group r2-9: the opt-out mechanism itself (7704(a)(3), (a)(5)(A)(ii); 16 CFR 316.5)

G9 = "r2-9-optout"


def optp(inner: str) -> str:
    return f'<p class="optout" style="margin:0;">{inner}</p>'


OPT_CASES = [
    (
        "r2-o01-unsubscribe-text-links-to-shop",
        "link text 'Unsubscribe' points at the sale page",
        optp(
            f'Don\'t want these emails? <a href="{SHOP.replace("&", "&amp;")}" style="color:#555555;">Unsubscribe</a>.'
        ),
        U,
        "15 U.S.C. 7704(a)(3)(A)(i): no functioning mechanism; the link opts no one out",
    ),
    (
        "r2-o02-login-required",
        "opt-out needs signing in with the account password",
        optp(
            "To unsubscribe, sign in to your Northwind account with your password and change your email settings: "
            '<a href="https://northwindoutfitters.com/account/login?next=/account/email-settings" style="color:#555555;">'
            "Sign in to unsubscribe</a>."
        ),
        U,
        CITE_316_5 + " (a password is information beyond the address; signing in is a step beyond one page)",
    ),
    (
        "r2-o03-asks-zip-and-birth-date",
        "opt-out page asks for email address, ZIP code and date of birth",
        optp(
            f'To unsubscribe, <a href="{UNSUB_HTML}" style="color:#555555;">visit this page</a> and enter your email '
            "address, ZIP code and date of birth."
        ),
        U,
        CITE_316_5,
    ),
    (
        "r2-o04-fee-to-unsubscribe",
        "opt-out costs a $1.99 processing fee",
        optp(
            f'Don\'t want these emails? <a href="{UNSUB_HTML}" style="color:#555555;">Unsubscribe</a> '
            "(a $1.99 processing fee applies)."
        ),
        U,
        CITE_316_5,
    ),
    (
        "r2-o05-phone-only",
        "only opt-out: call 1-800-555-0199, weekdays 9-5 PT",
        optp(
            "To stop receiving these emails, call 1-800-555-0199 (Monday to Friday, 9 a.m. to 5 p.m. Pacific)."
        ),
        U,
        "15 U.S.C. 7704(a)(3)(A)(i): a return electronic mail address or other Internet-based mechanism; "
        "a telephone line is neither",
    ),
    (
        "r2-o06-postal-letter-only",
        "only opt-out: write to the postal address above",
        optp("To stop receiving these emails, write to us at the postal address above."),
        U,
        "15 U.S.C. 7704(a)(3)(A)(i): a letter is not an Internet-based mechanism",
    ),
    (
        "r2-o07-link-expires-in-7-days",
        "the opt-out link says it expires 7 days after sending",
        optp(
            f'Don\'t want these emails? <a href="{UNSUB_HTML}" style="color:#555555;">Unsubscribe</a>. '
            "This link expires 7 days after this email was sent."
        ),
        U,
        "15 U.S.C. 7704(a)(3)(A)(ii): the mechanism must remain capable of receiving requests for at least 30 days",
    ),
    (
        "r2-o08-javascript-href",
        'opt-out link href="javascript:void(0)" (mail clients run no script)',
        unsub_p(url="javascript:void(0)"),
        U,
        "15 U.S.C. 7704(a)(3)(A)(i): not a functioning mechanism",
    ),
    (
        "r2-o09-fragment-href",
        'opt-out link href="#"',
        unsub_p(url="#"),
        U,
        "15 U.S.C. 7704(a)(3)(A)(i): not a functioning mechanism",
    ),
    (
        "r2-o10-reply-instruction-control",
        "control: 'reply to this email with UNSUBSCRIBE in the subject line', no link",
        optp("Don't want these emails? Reply to this email with UNSUBSCRIBE in the subject line."),
        [],
        "control: 15 U.S.C. 7704(a)(3)(A)(i) 'a functioning return electronic mail address'; 16 CFR 316.5 allows "
        "'sending a reply electronic mail message'",
    ),
    (
        "r2-o11-email-address-instruction-control",
        "control: 'To opt out, send an email to optout@northwindoutfitters.com' (address not linked)",
        optp("To opt out of these emails, send an email to optout@northwindoutfitters.com."),
        [],
        "control: 15 U.S.C. 7704(a)(3)(A)(i) return electronic mail address",
    ),
    (
        "r2-o12-click-here-control",
        "control: 'To stop receiving these emails, click here.' with the link on 'click here'",
        optp(
            f'To stop receiving these emails, <a href="{UNSUB_HTML}" style="color:#555555;">click here</a>.'
        ),
        [],
        "control: 15 U.S.C. 7704(a)(5)(A)(ii) notice + (a)(3) mechanism; no wording is prescribed",
    ),
    (
        "r2-o13-url-shortener-control",
        "control: opt-out link https://bit.ly/nw-unsub-c7f41a9e (a public redirect to the opt-out page)",
        unsub_p(url="https://bit.ly/nw-unsub-c7f41a9e"),
        [],
        "control: 15 U.S.C. 7704(a)(3) functioning; nothing in CAN-SPAM or 316.5 bars a redirect "
        "(shortener bans are carrier rules for texts)",
    ),
    (
        "r2-o14-esp-host-control",
        "control: opt-out link on the email service provider's host u4512331.ct.sendgrid.net",
        unsub_p(url="https://u4512331.ct.sendgrid.net/asm/unsubscribe/?user_id=4512331&data=c7f41a9e"),
        [],
        "control: 15 U.S.C. 7704(a)(3): functioning; the mechanism may be run by the sender's agent",
    ),
    (
        "r2-o15-plain-http-link-control",
        "control: opt-out link http:// (not https) on the sender's public host",
        unsub_p(url="http://northwindoutfitters.com/email/unsubscribe?u=c7f41a9e&list=news"),
        [],
        "control: 15 U.S.C. 7704(a)(3): functioning; the law does not require TLS",
    ),
    (
        "r2-o16-plain-url-not-linked-control",
        "control: 'Unsubscribe: https://...' printed as text, not a hyperlink",
        optp(f"Don't want these emails? Unsubscribe: {UNSUB_HTML}"),
        [],
        "control: 15 U.S.C. 7704(a)(3)(A)(i): an Internet-based mechanism clearly displayed",
    ),
    (
        "r2-o19-profile-link-only",
        "only link: 'Update your profile'; nothing says the reader can stop the emails",
        optp(
            '<a href="https://northwindoutfitters.com/account/profile" style="color:#555555;">Update your profile</a>'
        ),
        U,
        "15 U.S.C. 7704(a)(5)(A)(ii): no 'clear and conspicuous notice of the opportunity ... to decline to receive "
        "further commercial electronic mail messages'",
    ),
    (
        "r2-o20-menu-with-all-option-control",
        "control: 'Choose which emails you get, or unsubscribe from all marketing email' (preferences menu)",
        optp(
            f'Choose which emails you get, or unsubscribe from all marketing email: <a href="{UNSUB_HTML}" '
            'style="color:#555555;">Email preferences</a>.'
        ),
        [],
        "control: 15 U.S.C. 7704(a)(3)(B): a menu is allowed if it offers opting out of all commercial mail",
    ),
]
for cid, what, unsub_html, exp, cite in OPT_CASES:
    add(id=cid, group=G9, title=what, html=page(footer(unsub=unsub_html)), expected=list(exp), cite=cite)

add(
    id="r2-o17-own-complete-list-unsubscribe-control",
    group=G9,
    title="control: the message brings its own List-Unsubscribe (https + mailto) and List-Unsubscribe-Post: One-Click",
    headers=[
        (
            "List-Unsubscribe",
            "<https://northwindoutfitters.com/email/one-click/c7f41a9e>, "
            "<mailto:unsubscribe@northwindoutfitters.com?subject=unsubscribe-c7f41a9e>",
        ),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ],
    html=page(footer()),
    text=text_body(),
    cite="control: RFC 8058 3.1, RFC 2369; CAN-SPAM met in the body",
)
add(
    id="r2-o18-own-http-list-unsubscribe",
    group=G9,
    title="the message brings List-Unsubscribe: <http://...> (no https) + List-Unsubscribe-Post; body complies. "
    "Decision: CAN-SPAM is met by the body link and this config adds/repairs the header, so pass; "
    "a refusal naming LIST_UNSUBSCRIBE_HEADER is also defensible (RFC 8058 3.1 wants an HTTPS URI; Gmail too)",
    headers=[
        ("List-Unsubscribe", "<http://northwindoutfitters.com/email/one-click/c7f41a9e>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ],
    html=page(footer()),
    text=text_body(),
    allow=["LIST_UNSUBSCRIBE_HEADER"],
    cite="15 U.S.C. 7704(a)(3) met in the body; RFC 8058 3.1 (HTTPS URI); gateway.toml add_list_unsubscribe = true",
)

# --------------------------------------------------------------------------------------------------
# Group r2-10: category by content (16 CFR 316.3; 15 U.S.C. 7702(2), (17))

G10 = "r2-10-category"
ALERTS_FROM = "Northwind Outfitters <alerts@alerts.northwindoutfitters.com>"


def plain_html(inner: str, title: str) -> str:
    """A simple message with no footer at all (no address, no opt-out, no label)."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>{title}</title></head>
<body style="margin:0;padding:24px;background-color:#ffffff;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:22px;color:#222222;">
<div style="max-width:600px;margin:0 auto;">
{inner}</div>
</body>
</html>
"""


def cat(cid, sender, from_, subject, html, text, expected, allow, cite, title):
    add(
        id=cid,
        group=G10,
        title=title,
        sender=sender,
        from_=from_,
        subject=subject,
        html=html,
        text=text,
        expected=expected,
        allow=allow,
        cite=cite,
    )


PROMO_SUBJ = "Your order #NW-448213 is confirmed + 20% off your next order"
cat(
    "r2-k01-orders-promo-subject-on-receipt",
    "orders",
    ORDERS_FROM,
    PROMO_SUBJ,
    tx_html(RECEIPT_XSELL_HTML, PROMO_SUBJ),
    RECEIPT_XSELL_TEXT + TX_FOOTER_TEXT,
    CNA,
    CS_ALLOW,
    "16 CFR 316.3(a)(2)(i): receipt first, but the subject would lead a recipient to conclude the message contains "
    "an advertisement -> commercial; orders stream may not send commercial mail",
    "orders stream: receipt first with one cross-sell line, subject advertises '20% off your next order'",
)
cat(
    "r2-k02-accounts-promo-subject-on-receipt",
    "accounts",
    ACCOUNT_FROM,
    PROMO_SUBJ,
    tx_html(RECEIPT_XSELL_HTML, PROMO_SUBJ),
    RECEIPT_XSELL_TEXT + TX_FOOTER_TEXT,
    ["CANSPAM_UNSUBSCRIBE", "CANSPAM_AD_LABEL"],
    [],
    "16 CFR 316.3(a)(2)(i) -> commercial; commercial mail needs 15 U.S.C. 7704(a)(3), (a)(5)(A)(i)-(ii) "
    "(decision as round 1: a discount in the subject is not an identification as an advertisement)",
    "accounts stream (may send marketing): same receipt under the promotional subject, no opt-out, no label",
)
SALE_ORDER_SUBJ = "Your Winter Sale order #NW-448213 is confirmed"
cat(
    "r2-k03-orders-sale-word-in-subject-pure-receipt",
    "orders",
    ORDERS_FROM,
    SALE_ORDER_SUBJ,
    tx_html(ORDER_HTML, SALE_ORDER_SUBJ),
    ORDER_TEXT + TX_FOOTER_TEXT,
    [],
    [],
    "control: 16 CFR 316.3(b): a message consisting exclusively of transactional content is transactional; the "
    "subject test (a)(2)(i) applies only to mixed messages, and this one has no commercial content "
    "(7702(17)(A)(i) confirms a transaction)",
    "control: orders stream, a pure order confirmation whose subject names the 'Winter Sale' the order was placed in",
)
RECALL_SUBJ = "Safety recall: Summit camp stove model CS-200"
RECALL_HTML = (
    '<h2 style="font-size:18px;margin:0 0 8px 0;">Safety recall: Summit camp stove CS-200</h2>\n'
    "<p>You bought a Summit camp stove, model CS-200, on November 2, 2025 (order #NW-431877). The maker has recalled "
    "it because the fuel valve can leak. Stop using it now.</p>\n"
    "<p>We will send you a replacement valve kit or refund the full price, whichever you choose: "
    '<a href="https://northwindoutfitters.com/recalls/cs-200?o=NW-431877">choose a remedy</a>.</p>\n'
)
RECALL_TEXT = (
    "Safety recall: Summit camp stove CS-200\n\nYou bought a Summit camp stove, model CS-200, on November 2, 2025 "
    "(order #NW-431877).\nThe maker has recalled it because the fuel valve can leak. Stop using it now.\n"
    "Replacement valve kit or full refund: https://northwindoutfitters.com/recalls/cs-200?o=NW-431877\n"
)
cat(
    "r2-k04-orders-recall-notice-no-footer",
    "orders",
    ORDERS_FROM,
    RECALL_SUBJ,
    plain_html(RECALL_HTML, RECALL_SUBJ),
    RECALL_TEXT,
    [],
    [],
    "control: 15 U.S.C. 7702(17)(A)(ii) product recall / safety information -> transactional: 7704(a)(3), (a)(5) "
    "(opt-out, label, postal address) do not apply",
    "control: orders stream, product-recall notice with no footer at all (no address, no opt-out, no label)",
)
STORM_SUBJ = "Tacoma store closed today because of snow"
STORM_HTML = (
    '<h2 style="font-size:18px;margin:0 0 8px 0;">Our Tacoma store is closed today</h2>\n'
    "<p>Because of the snowstorm, the Tacoma store is closed today, Tuesday, January 13. We expect to open at 10 a.m. "
    "tomorrow. Pick-up orders waiting for you will be held until January 20.</p>\n"
)
STORM_TEXT = (
    "Our Tacoma store is closed today\n\nBecause of the snowstorm, the Tacoma store is closed today, Tuesday, "
    "January 13.\nWe expect to open at 10 a.m. tomorrow. Pick-up orders waiting for you will be held until January 20.\n"
)
cat(
    "r2-k05-alerts-store-closure-no-footer",
    "alerts",
    ALERTS_FROM,
    STORM_SUBJ,
    plain_html(STORM_HTML, STORM_SUBJ),
    STORM_TEXT,
    [],
    [],
    "control: 15 U.S.C. 7702(2)(A): no commercial advertisement or promotion -> not a commercial message; "
    "7704(a)(3), (a)(5) apply only to commercial mail",
    "control: alerts stream (informational), a store-closure notice with no footer at all",
)
HOURS_SUBJ = "Store hours this weekend"
HOURS_LINE_HTML = "<p>Store hours this weekend: Saturday 9 a.m. to 6 p.m., Sunday 10 a.m. to 5 p.m.</p>\n"
HOURS_LINE_TEXT = "\nStore hours this weekend: Saturday 9 a.m. to 6 p.m., Sunday 10 a.m. to 5 p.m.\n"
cat(
    "r2-k06-alerts-ad-under-store-hours",
    "alerts",
    ALERTS_FROM,
    HOURS_SUBJ,
    tx_html(AD_HTML + HOURS_LINE_HTML, HOURS_SUBJ),
    AD_TEXT + HOURS_LINE_TEXT + TX_FOOTER_TEXT,
    CNA,
    CS_ALLOW + ["CANSPAM_DECEPTIVE_SUBJECT"],
    "16 CFR 316.3(a)(3)(ii): commercial plus other content; the body leads with and is mostly a 40%-off ad -> "
    "commercial; the alerts stream may not send commercial mail",
    "alerts stream: a clearance ad first, one store-hours line at the end, under 'Store hours this weekend'",
)
MLK_SUBJ = "Store hours for Martin Luther King Jr. Day"
MLK_HTML = (
    '<h2 style="font-size:18px;margin:0 0 8px 0;">Holiday hours</h2>\n'
    "<p>On Monday, January 19, Martin Luther King Jr. Day, the Tacoma store opens from 10 a.m. to 4 p.m. Our phone "
    "line is closed that day; chat stays open.</p>\n"
    '<p style="font-size:13px;color:#555555;">You can shop online anytime at '
    '<a href="https://northwindoutfitters.com/">northwindoutfitters.com</a>.</p>\n'
)
MLK_TEXT = (
    "Holiday hours\n\nOn Monday, January 19, Martin Luther King Jr. Day, the Tacoma store opens from 10 a.m. to 4 p.m.\n"
    "Our phone line is closed that day; chat stays open.\n\nYou can shop online anytime at https://northwindoutfitters.com/\n"
)
cat(
    "r2-k07-alerts-hours-with-trailing-shop-line",
    "alerts",
    ALERTS_FROM,
    MLK_SUBJ,
    plain_html(MLK_HTML, MLK_SUBJ),
    MLK_TEXT,
    [],
    [],
    "control: 16 CFR 316.3(a)(3): neither the subject nor the body (informational first, one small closing line) "
    "would lead a recipient to conclude the primary purpose is commercial -> not commercial",
    "control: alerts stream, holiday-hours notice ending with one small 'shop online anytime' line, no footer",
)
RECEIPT_SUBJ = "Your order #NW-448213 is confirmed"
cat(
    "r2-k08-marketing-stream-pure-receipt",
    "northwind",
    "Northwind Outfitters <orders@northwindoutfitters.com>",
    RECEIPT_SUBJ,
    tx_html(ORDER_HTML, RECEIPT_SUBJ),
    ORDER_TEXT + TX_FOOTER_TEXT,
    ["CANSPAM_UNSUBSCRIBE", "CANSPAM_AD_LABEL"],
    [],
    "16 CFR 316.3(b) + 15 U.S.C. 7702(17)(A)(i): exclusively transactional content is transactional whatever "
    "stream sends it, so by the law alone no opt-out or ad label is required. Decision (SPEC: 'Email gets its "
    "category from the sender (stream)'): the marketing stream's mail is judged as marketing; the receipt "
    "belongs on a transactional stream",
    "control: the marketing stream (northwind) sends a pure order confirmation, no opt-out, no ad label",
)
RENEW_SUBJ = "Your Trail Club membership renews on February 1"
RENEW_HTML = (
    '<h2 style="font-size:18px;margin:0 0 8px 0;">Your membership renews soon</h2>\n'
    "<p>Your Northwind Trail Club membership (member #TC-20931) renews automatically on February 1, 2026 for "
    "$49.00, charged to Visa ending 4417. Your current benefits stay the same.</p>\n"
    '<p>To change your card or cancel the renewal, visit <a href="https://northwindoutfitters.com/account/membership">'
    "your membership page</a>.</p>\n"
)
RENEW_TEXT = (
    "Your membership renews soon\n\nYour Northwind Trail Club membership (member #TC-20931) renews automatically on "
    "February 1, 2026 for $49.00,\ncharged to Visa ending 4417. Your current benefits stay the same.\n"
    "Change your card or cancel the renewal: https://northwindoutfitters.com/account/membership\n"
)
cat(
    "r2-k09-orders-membership-renewal-notice",
    "orders",
    ORDERS_FROM,
    RENEW_SUBJ,
    tx_html(RENEW_HTML, RENEW_SUBJ),
    RENEW_TEXT + TX_FOOTER_TEXT,
    [],
    [],
    "control: 15 U.S.C. 7702(17)(A)(iii): notice about a subscription/membership the recipient holds -> transactional",
    "control: orders stream, automatic membership-renewal notice",
)
TRAIL_SUBJ = "Weekend sale + trail conditions"
TRAIL_HTML = (
    '<h2 style="font-size:18px;margin:0 0 8px 0;">Trail conditions</h2>\n'
    "<p>Mount Rainier: snow above 4,000 feet, chains required on SR 706. Olympic coast trails are open; the "
    "Hoh River trail is closed past mile 5 for a washout.</p>\n"
    '<p style="font-size:20px;color:#b00020;"><b>This weekend only: 30% off trail runners.</b> '
    '<a href="https://northwindoutfitters.com/sale/trail-runners">Shop now</a></p>\n'
)
TRAIL_TEXT = (
    "Trail conditions\n\nMount Rainier: snow above 4,000 feet, chains required on SR 706. Olympic coast trails are "
    "open;\nthe Hoh River trail is closed past mile 5 for a washout.\n\n"
    "THIS WEEKEND ONLY: 30% OFF TRAIL RUNNERS. Shop now: https://northwindoutfitters.com/sale/trail-runners\n"
)
cat(
    "r2-k10-alerts-sale-in-subject",
    "alerts",
    ALERTS_FROM,
    TRAIL_SUBJ,
    tx_html(TRAIL_HTML, TRAIL_SUBJ),
    TRAIL_TEXT + TX_FOOTER_TEXT,
    CNA,
    CS_ALLOW,
    "16 CFR 316.3(a)(3)(i): commercial plus other content, and the subject announces a sale -> commercial; "
    "the alerts stream may not send commercial mail",
    "alerts stream: trail conditions first, then a 30%-off offer, under 'Weekend sale + trail conditions'",
)

# --------------------------------------------------------------------------------------------------
# Group r2-11: which postal addresses are valid (16 CFR 316.2(p)). Two senders added to gateway.toml:
# trailhead (physical_address is a PO box) and summit (no physical_address configured).

G11 = "r2-11-address"
TRAILHEAD_FROM = "Trailhead Gear Co <news@news.trailheadgear.com>"
SUMMIT_FROM = "Summit Supply <deals@mail.summitsupply.com>"


def addr_case(cid, sender, addr_html, expected, title, cite):
    if sender == "trailhead":
        brand, domain, from_ = "Trailhead Gear Co", "trailheadgear.com", TRAILHEAD_FROM
    elif sender == "summit":
        brand, domain, from_ = "Summit Supply", "summitsupply.com", SUMMIT_FROM
    else:
        brand, domain, from_ = (
            BRAND,
            "northwindoutfitters.com",
            "Northwind Outfitters <news@mail.northwindoutfitters.com>",
        )
    html = rebrand(page(footer(addr="@@ADDR@@")), brand, domain).replace(
        "@@ADDR@@", f'<p class="addr" style="margin:0 0 8px 0;">{addr_html}</p>'
    )
    add(
        id=cid,
        group=G11,
        title=title,
        sender=sender,
        from_=from_,
        html=html,
        expected=expected,
        cite=cite,
    )


addr_case(
    "r2-a01-pobox-as-configured",
    "trailhead",
    "Trailhead Gear Co<br>PO Box 4417<br>Bend, OR 97709",
    [],
    "control: sender configured with a PO box; footer shows it as configured",
    CITE_ADDR_OK,
)
addr_case(
    "r2-a02-pobox-dotted-state-spelled",
    "trailhead",
    "Trailhead Gear Co<br>P.O. Box 4417<br>Bend, Oregon 97709",
    [],
    "control: the configured PO box written 'P.O. Box', state spelled out: the same address",
    CITE_ADDR_OK,
)
addr_case(
    "r2-a03-configured-street-long-forms",
    "northwind",
    "Northwind Outfitters<br>1450 Harbor Boulevard, Ste. 210<br>Tacoma, Washington 98402",
    [],
    "control: the configured street address with 'Boulevard', 'Ste.' and 'Washington' spelled out: the same address",
    CITE_ADDR_OK,
)
addr_case(
    "r2-a04-pmb-unconfigured",
    "summit",
    "Summit Supply<br>2850 W Horizon Ridge Pkwy Ste 200 PMB 117<br>Henderson, NV 89052",
    [],
    "control: sender with no configured address; a CMRA private mailbox 'PMB 117'",
    CITE_ADDR_OK,
)
addr_case(
    "r2-a05-pobox-unconfigured",
    "summit",
    "Summit Supply<br>PO Box 530441<br>Henderson, NV 89053",
    [],
    "control: sender with no configured address; a USPS PO box",
    CITE_ADDR_OK,
)
addr_case(
    "r2-a06-hash-mailbox-unconfigured",
    "summit",
    "Summit Supply<br>2850 W Horizon Ridge Pkwy #117<br>Henderson, NV 89052",
    [],
    "control: sender with no configured address; private mailbox written with '#' (65 FR 49917)",
    CITE_ADDR_OK,
)
addr_case(
    "r2-a07-zip-plus-four-unconfigured",
    "summit",
    "Summit Supply<br>1180 N Town Center Dr, Suite 100<br>Las Vegas, NV 89144-0595",
    [],
    "control: sender with no configured address; street address with a ZIP+4",
    CITE_ADDR_OK,
)
addr_case(
    "r2-a08-canadian-street-unconfigured",
    "summit",
    "Summit Supply<br>1055 W Georgia St, Suite 1500<br>Vancouver, BC V6E 4N7<br>Canada",
    [],
    "control: sender with no configured address; a Canadian street address (decision: 316.2(p) asks for the "
    "sender's current street address, and only the PO box and private mailbox options are tied to USPS)",
    CITE_ADDR_OK,
)
addr_case(
    "r2-a09-city-only",
    "summit",
    "Summit Supply &middot; Henderson, Nevada",
    A,
    "footer gives only a city and state",
    CITE_ADDR_BAD,
)
addr_case(
    "r2-a10-url-instead-of-address",
    "summit",
    'Summit Supply &middot; Find a store: <a href="https://summitsupply.com/locations">summitsupply.com/locations</a>',
    A,
    "footer gives a store-locator URL instead of an address",
    CITE_ADDR_BAD,
)
addr_case(
    "r2-a11-city-state-zip-no-street",
    "summit",
    "Summit Supply<br>Henderson, NV 89052",
    A,
    "footer gives city, state and ZIP but no street, box or mailbox",
    CITE_ADDR_BAD,
)
addr_case(
    "r2-a12-email-and-phone-only",
    "summit",
    "Summit Supply &middot; help@summitsupply.com &middot; 1-702-555-0147",
    A,
    "footer gives an email address and a phone number, no postal address",
    CITE_ADDR_BAD,
)
addr_case(
    "r2-a13-configured-sender-city-only",
    "northwind",
    "Northwind Outfitters &middot; Tacoma, WA",
    A,
    "sender with a configured street address shows only 'Tacoma, WA'",
    CITE_ADDR_BAD,
)
addr_case(
    "r2-a14-street-without-city",
    "summit",
    "Summit Supply<br>2850 W Horizon Ridge Pkwy, Suite 200",
    A,
    "footer gives a street line with no city, state or ZIP (not deliverable)",
    CITE_ADDR_BAD,
)
addr_case(
    "r2-a15-pobox-sender-without-box-number",
    "trailhead",
    "Trailhead Gear Co<br>Bend, OR 97709",
    A,
    "sender configured with a PO box shows only 'Bend, OR 97709' (the box number is missing)",
    CITE_ADDR_BAD,
)


# --------------------------------------------------------------------------------------------------


def render(c: Case) -> bytes:
    domain = c.msgid_domain or c.from_.split("@", 1)[1].rstrip(">")
    headers = []
    if c.from_ is not None:
        headers.append(("From", c.from_))
    headers.append(("To", c.to))
    if c.cc:
        headers.append(("Cc", c.cc))
    if c.subject is not None:
        headers.append(("Subject", c.subject))
    headers += [
        ("Date", c.date),
        ("Message-ID", f"<{c.id}.20260113T180000Z@{domain}>"),
        *c.headers,
        ("MIME-Version", "1.0"),
    ]
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    if c.mime is not None:
        body = crlf(c.mime)
    elif c.text is not None and c.html is not None:
        b = f"=_nw_{c.id.split('-')[0]}_alt"
        body = (
            f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
            f"This is a multi-part message in MIME format.\r\n\r\n"
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{crlf(c.text)}\r\n"
            f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{crlf(c.html)}\r\n--{b}--\r\n"
        )
    elif c.html is not None:
        body = (
            f"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{crlf(c.html)}"
        )
    else:
        body = f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{crlf(c.text or '')}"
    return (head + body).encode("utf-8")


def crlf(s: str) -> str:
    return s.replace("\r\n", "\n").replace("\n", "\r\n")


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(xs: list[str]) -> str:
    return "[" + ", ".join(toml_str(x) for x in xs) + "]"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.eml"):
        old.unlink()
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case id"
    lines = [
        "# Held-out email cases: one table per file. Generated by tests/heldout/make_email.py; see README.md.",
        "# expected: codes the law requires (all must be reported; [] means the message must pass).",
        "# allow: further codes that are also defensible for this message (reported or not, no failure).",
        "",
    ]
    for c in CASES:
        (OUT / f"{c.id}.eml").write_bytes(render(c))
        lines += [
            "[[case]]",
            f"file = {toml_str(c.id + '.eml')}",
            f"group = {toml_str(c.group)}",
            f"sender = {toml_str(c.sender)}",
            f"title = {toml_str(c.title)}",
            f"expected = {toml_list(c.expected)}",
        ]
        if c.allow:
            lines.append(f"allow = {toml_list(c.allow)}")
        lines += [f"cite = {toml_str(c.cite)}", ""]
    (OUT / "expected.toml").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {len(CASES)} cases to {OUT}")


if __name__ == "__main__":
    main()
