#!/usr/bin/env python3
"""Writes the held-out email corpus: tests/heldout/email/*.eml and email/expected.toml.

The .eml files are committed; this script is how they were made, so that a change to a case is made
here and the files regenerated (`python tests/heldout/make_email.py`). Each case isolates one defect:
everything else a commercial message needs (ad label, postal address, a visible working opt-out) is
present and visible unless the case is about that element. See README.md for the labels and citations.
"""

from __future__ import annotations

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


# --------------------------------------------------------------------------------------------------


def render(c: Case) -> bytes:
    domain = c.from_.split("@", 1)[1].rstrip(">")
    headers = [
        ("From", c.from_),
        ("To", c.to),
    ]
    if c.cc:
        headers.append(("Cc", c.cc))
    headers += [
        ("Subject", c.subject),
        ("Date", c.date),
        ("Message-ID", f"<{c.id}.20260113T180000Z@{domain}>"),
        ("MIME-Version", "1.0"),
    ]
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    if c.text is not None and c.html is not None:
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
