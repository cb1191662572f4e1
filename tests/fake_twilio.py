"""A fake Twilio Messages API on loopback (aiohttp, its own thread and loop): records what arrives and
fails on demand, so the gateway's `twilio` provider can be driven through every outcome.

    fake = FakeTwilio(); fake.start()
    fake.mode = "500" | "timeout" | "reset" | "refuse" | "ok"
    fake.received -> [{"account": ..., "form": {...}, "auth": (user, password)}]

Also a standalone server for bench/sms.py: `python tests/fake_twilio.py --port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import threading
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web


def message(account: str, form: dict[str, str]) -> dict:
    sid = "SM" + secrets.token_hex(16)
    now = format_datetime(datetime.now(UTC), usegmt=True).replace("GMT", "+0000")
    uri = f"/2010-04-01/Accounts/{account}/Messages/{sid}.json"
    return {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": form.get("Body", ""),
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": form.get("To"),
        "uri": uri,
    }


class FakeTwilio:
    def __init__(self, port: int = 0, record: bool = True) -> None:
        self.port = port
        self.record = record
        self.mode = "ok"
        self.delay = 0.0
        self.received: list[dict] = []
        self.attempts = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _create(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        account = request.match_info["account"]
        posted = await request.post()
        form = {k: v for k, v in posted.items()}
        if len(posted.getall("MediaUrl", [])) > 1:  # an MMS album: Twilio takes the field repeated
            form["MediaUrl"] = posted.getall("MediaUrl")
        user, _, password = (
            base64.b64decode(request.headers.get("Authorization", "x ")[6:] or b"").decode().partition(":")
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        mode = self.mode
        if mode == "timeout":
            await asyncio.sleep(60)
        if mode == "reset":
            request.transport.abort()  # connection reset, no answer
            return web.Response()
        if mode == "500":
            return web.json_response(
                {"code": 20500, "message": "Internal Server Error", "status": 500}, status=500
            )
        if mode == "refuse":
            return web.json_response(
                {
                    "code": 21211,
                    "message": f"The 'To' number {form.get('To')} is not a valid phone number.",
                    "more_info": "https://www.twilio.com/docs/errors/21211",
                    "status": 400,
                },
                status=400,
            )
        if self.record:
            self.received.append({"account": account, "form": form, "auth": (user, password)})
        if mode == "nosid":  # something speaking Twilio's API that takes the text but names no sid
            return web.json_response({"status": "queued", "account_sid": account}, status=201)
        return web.json_response(message(account, form), status=201)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create)
        return app

    def start(self) -> FakeTwilio:
        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)

            async def up() -> None:
                self._runner = web.AppRunner(self.app(), access_log=None)
                await self._runner.setup()
                site = web.TCPSite(self._runner, "127.0.0.1", self.port)
                await site.start()
                self.port = site._server.sockets[0].getsockname()[1]
                self._ready.set()

            self._loop.run_until_complete(up())
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(
        FakeTwilio(args.port, record=False).app(),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
    )
