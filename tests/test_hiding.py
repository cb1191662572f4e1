"""What CSS hides (gateway/content/hiding.py): style rules, clipping, near-zero font sizes and text the
colour of its background are not visible text; what only looks like them stays visible."""

from __future__ import annotations

import pytest

from gateway.content.html import render


def visible(markup: str) -> str:
    return " ".join(render(markup)[0].split())


@pytest.mark.parametrize(
    "markup, shown",
    [
        # <style> rules: class, id, type, compounds, lists, descendant and child combinators, !important
        ('<style>.f{display:none}</style><p>Hi</p><p class="f">Unsubscribe</p>', "Hi"),
        ('<style>#f{visibility:hidden}</style><p>Hi</p><div id="f">Unsubscribe</div>', "Hi"),
        ("<style>h1, .x{display:none}</style><h1>Title</h1><p class='x'>X</p><p>Y</p>", "Y"),
        ('<style>p.f{display:none}</style><p class="f">A</p><div class="f">B</div>', "B"),
        (
            '<style>.foot a{display:none}</style><div class="foot">x <a href="u">Unsub</a></div><a href="v">V</a>',
            "x V",
        ),
        (
            '<style>td.f > p > a{visibility:hidden}</style><table><tr><td class="f"><p>x <a href="u">U</a></p></td></tr></table>',
            "x",
        ),
        (
            '<style>td.f > a{visibility:hidden}</style><table><tr><td class="f"><p>x <a href="u">U</a></p></td></tr></table>',
            "x U",
        ),
        (
            '<style>.f{display:none!important}</style><div class="f" style="display:block">U</div><p>x</p>',
            "x",
        ),
        ('<style>.f{display:none}</style><div class="f" style="display:block">U</div>', "U"),
        ("<style>.o{opacity:0}</style><p class='o'>Hidden</p><p>Y</p>", "Y"),
        ("<style>.t{font-size:0}</style><p class='t'>Hidden</p><p>Y</p>", "Y"),
        ("<style>.x{display:none}</style><p class='y'>Shown</p><p class='xy'>Also</p>", "Shown Also"),
        ("<style>@media print{.f{display:none}}</style><div class='f'>Shown</div>", "Shown"),
        ("<style>@media (max-width:480px){.f{display:none}}</style><div class='f'>Shown</div>", "Shown"),
        ("<style>@media screen{.f{display:none}}</style><div class='f'>Hidden</div><p>Y</p>", "Y"),
        ("<style>/* .f{display:none} */</style><div class='f'>Shown</div>", "Shown"),
        # clipping and Outlook's mso-hide
        ('<div style="max-height:0;overflow:hidden;mso-hide:all">Pre</div><p>Body</p>', "Body"),
        ('<div style="height:0px;overflow:hidden">Pre</div><p>Body</p>', "Body"),
        ('<div style="mso-hide:all">Pre</div><p>Body</p>', "Pre Body"),  # (Outlook for Windows only)
        ('<div style="height:0">Shown</div>', "Shown"),
        ('<div style="max-height:0">Shown</div>', "Shown"),
        ('<div style="line-height:0;overflow:hidden">Shown</div>', "Shown"),
        # zero or near-zero font sizes, and the layouts that reset them
        ('<p>Body</p><td style="font-size:0"><a href="u">Unsubscribe</a></td>', "Body"),
        ('<p>Body</p><span style="font-size:1px">U</span>', "Body"),
        ('<p>Body</p><span style="font-size:0.5px">U</span>', "Body"),
        ('<div style="font-size:0px"><div style="font-size:13px">Visible text</div></div>', "Visible text"),
        ('<span style="font-size:11px">Small but fine</span>', "Small but fine"),
        ('<span style="font-size:10px">Ten</span>', "Ten"),
        # text the colour of the background behind it
        ('<td bgcolor="#ffffff"><span style="color:#fff">Hidden</span> x</td>', "x"),
        ('<td style="background:#333"><span style="color:#ffffff">Shown</span></td>', "Shown"),
        ('<p style="color:#abcdef;background-color:#abcdef">Hidden</p><p>Y</p>', "Y"),
        ('<div style="color:#fff"><span style="color:#000">Shown</span> hidden</div>', "Shown"),
        ('<div style="color:#fff">hidden <a href="u">Unsubscribe</a></div>', "Unsubscribe"),
        ('<table bgcolor="white"><tr><td style="color:#FFFFFF">Hidden</td></tr></table><p>Y</p>', "Y"),
        ('<div style="background:rgb(0,0,0)"><p style="color:black">Hidden</p></div><p>Y</p>', "Y"),
        ('<p style="color:transparent">Hidden</p><p>Y</p>', "Y"),
        ('<p style="color:#fefefe">Hidden</p><p>Y</p>', "Y"),
        ('<p style="color:#999999">Light grey is readable</p>', "Light grey is readable"),
        ("<style>.w{color:#ffffff!important}</style><p class='w' style='color:#555'>Hidden</p><p>Y</p>", "Y"),
        ('<div style="background:#0b3d2e"><a href="u" style="color:#ffffff">Button</a></div>', "Button"),
        # visibility: a descendant may undo it
        ('<div style="visibility:hidden"><p style="visibility:visible">Shown</p> gone</div>', "Shown"),
    ],
)
def test_what_a_reader_sees(markup, shown):
    assert visible(markup) == shown


# What ordinary templates do, which must stay visible (found by review: each was cut once)
@pytest.mark.parametrize(
    "markup, shown",
    [
        (  # Outlook's ghost table: its zero-size <td> lives in conditional comments
            '<body style="font-size:14px"><!--[if mso]><table><tr><td style="font-size:0px;line-height:0px">'
            '<![endif]--><div><p>ACME Inc, 1 Main St</p><a href="https://acme.com/u">Unsubscribe</a></div>'
            "<!--[if mso]></td></tr></table><![endif]--></body>",
            "ACME Inc, 1 Main St Unsubscribe",
        ),
        (  # the bulletproof button's HTML copy
            '<a href="https://acme.com/unsub" style="background-color:#556270;color:#ffffff;'
            'display:inline-block;mso-hide:all">Unsubscribe</a>',
            "Unsubscribe",
        ),
        (  # a dark footer whose background a style rule sets
            '<style>.footer{background-color:#333}</style><table><tr><td class="footer" style="color:#fff">'
            'ACME, 1 Main St <a style="color:#fff" href="https://acme.com/u">Unsubscribe</a></td></tr></table>',
            "ACME, 1 Main St Unsubscribe",
        ),
        (  # white text on a background image
            '<td style="background-image:url(dark.jpg)"><p style="color:#fff">On the hero</p></td>',
            "On the hero",
        ),
        (
            '<div style="background:linear-gradient(#000,#333)"><p style="color:#eee">Gradient</p></div>',
            "Gradient",
        ),
    ],
)
def test_ordinary_templates_stay_visible(markup, shown):
    assert visible(markup) == shown


def test_a_link_around_text_that_stays_visible_stays_a_link():
    text, links = render(
        '<td style="font-size:0px"><a href="https://acme.com/unsub"><span style="font-size:12px">'
        "Unsubscribe</span></a></td>"
    )
    assert text == "Unsubscribe" and [link.url for link in links] == ["https://acme.com/unsub"]


@pytest.mark.parametrize(
    "markup",
    [
        '<div style="font-size:0">' * 3000 + "x" + "</div>" * 3000,
        "<b " * 30000 + '<p style="font-size:0">x</p><style>.a b{display:none}</style>',
        '<p style="height:0;overflow:hidden;' + "a" * 20000 + '">x</p>',
        '<div style="color:#fff">' * 3000 + "x" + "</div>" * 3000,
        '<div style="visibility:hidden">' * 3000 + '<p style="visibility:visible">x</p>' + "</div>" * 3000,
        "<style>"
        + "".join(f".c{i}{{display:none}}" for i in range(3000))
        + ".a .b{display:none}</style><p>x</p>",
        '<td bgcolor="#000">y</td>' * 3000 + '<span style="color:#fff">x</span>' * 3000,
    ],
)
def test_hostile_markup_is_judged_quickly_or_refused(markup):
    import time

    from gateway.content.hiding import TooManyHidden

    started = time.perf_counter()
    try:
        render(markup)
    except TooManyHidden:
        pass
    assert time.perf_counter() - started < 1.0


def test_a_hidden_link_is_no_link():
    text, links = render('<p>Hi</p><p style="font-size:0"><a href="https://x.example/u">Unsubscribe</a></p>')
    assert text == "Hi" and links == ()
