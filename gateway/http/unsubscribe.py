"""One-click unsubscribe (RFC 8058): `GET|POST /unsubscribe/{token}`.

GET shows a plain page with a button and changes nothing (link scanners and mailbox previews fetch
links; HEAD is a GET without the body). POST with `List-Unsubscribe=One-Click` in the body
(urlencoded or multipart, no cookie, no session) suppresses the token's recipient for the token's
sender at once and answers 200, no redirect; again, it changes nothing more. A token that does not
verify (forged, altered, signed with a secret no longer listed) is a 404 and changes nothing.

The token holds only the SHA-256 of the address, so the suppression is stored hashed: it blocks like
any other, and no readable address is needed, or written, to honor it.

A token is good for `gateway.unsubscribe_link_days` after it was made (default 180: CAN-SPAM wants the
mechanism working 30 days after sending, 15 U.S.C. 7704(a)(3)(A)(ii), CASL 60, s. 11(3)). After that
the page (and a one-click POST, with 410) asks the person to type their address: when its hash is the
token's, they are unsubscribed as before. Old links keep working for the people they were sent to;
a token found in an old mailbox or a log stops being a switch anyone can pull.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Mapping

from aiohttp import web

from ..addresses import address_hash, normalize_email
from ..lists import Lists, OptOut
from ..model import Reason
from ..store import StoreError
from ..tokens import TokenSigner, Unsubscribe
from .errors import ApiError
from .fields import posted_form

log = logging.getLogger("gateway.unsubscribe")

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
_MAX_TOKEN = 600


def _page(title: str, body: str, status: int = 200, headers: dict | None = None) -> web.Response:
    text = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**_HEADERS, **(headers or {})},
    )


def _not_valid() -> web.Response:
    return _page(
        "Link not valid",
        "<p>This unsubscribe link is not valid. If you copied it, check that it is "
        "complete, or use the unsubscribe link in a recent message.</p>",
        status=404,
    )


def make_handlers(config, lists: Lists, signer: TokenSigner):
    def who(token: str) -> Unsubscribe | None:
        return signer.read(token) if len(token) <= _MAX_TOKEN else None

    def expired(found: Unsubscribe) -> bool:
        return time.time() - found.issued_at > config.unsubscribe_link_days * 86400

    def ask_address(token: str, found: Unsubscribe, status: int = 200, note: str = "") -> web.Response:
        name = html.escape(brand(found.scope))
        return _page(
            f"Unsubscribe from {brand(found.scope)}",
            (f'<p class="error">{html.escape(note)}</p>\n' if note else "")
            + f"<p>This link is older than {config.unsubscribe_link_days} days. To stop receiving marketing "
            f"messages from {name}, type the address this message was sent to.</p>\n"
            f'<form method="post" action="/unsubscribe/{html.escape(token)}">\n'
            '<input type="email" name="address" required maxlength="320" autocomplete="email" aria-label="Your address">\n'
            '<button type="submit">Unsubscribe</button>\n</form>',
            status=status,
        )

    def brand(scope: str) -> str:
        sender = config.senders.get(scope)
        return sender.settings.brand if sender else scope

    async def confirm(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        found = who(token)
        if found is None:
            return _not_valid()
        if expired(found):
            return ask_address(token, found)
        name = html.escape(brand(found.scope))
        return _page(
            f"Unsubscribe from {brand(found.scope)}",
            f"<p>Stop receiving marketing messages from {name} at this address?</p>\n"
            f'<form method="post" action="/unsubscribe/{html.escape(token)}">\n'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
            '<button type="submit">Unsubscribe</button>\n</form>',
        )

    async def unsubscribe(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        found = who(token)
        if found is None:
            return _not_valid()
        form: Mapping[str, object]
        try:
            form = await posted_form(request)
        except ApiError:  # no form to be read: no One-Click in it
            form = {}
        typed = form.get("address")
        if isinstance(typed, str) and typed.strip():
            if address_hash(normalize_email(typed.strip()[:320])) != found.address_hash:
                return ask_address(token, found, 400, "That is not the address this message was sent to.")
        elif expired(found):
            return ask_address(token, found, 410 if form.get("List-Unsubscribe") == "One-Click" else 200)
        elif form.get("List-Unsubscribe") != "One-Click":
            return _page(
                "Not understood",
                "<p>An unsubscribe request carries <code>List-Unsubscribe=One-Click"
                "</code> (RFC 8058). Use the button on the page this link opens.</p>",
                status=400,
            )
        how = "one-click" if not typed else "unsubscribe page, address confirmed"
        wanted = OptOut(found.channel, found.scope, Reason.UNSUBSCRIBE, how, hash=found.address_hash)
        try:
            added = await lists.opt_out("one-click", wanted)
        except StoreError as exc:
            log.warning("unsubscribe not taken, store unavailable: %s", exc)
            return _page(
                "Please try again",
                "<p>Your request could not be recorded just now. Please try again in a minute.</p>",
                status=503,
                headers={"Retry-After": "60"},
            )
        if added:
            log.info("one-click unsubscribe: %s scope %s", found.channel.value, found.scope)
        return _page(
            "You are unsubscribed",
            f"<p>You will not receive marketing messages from "
            f"{html.escape(brand(found.scope))} at this address any more.</p>",
        )

    return confirm, unsubscribe
