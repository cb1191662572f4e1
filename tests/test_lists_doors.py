"""The command line, the HTTP API and the ops console change the suppression list and the consent ledger
through one service (gateway/lists/): each accepts and refuses the same inputs, and each change is audited
with the door that made it."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest
from helpers import run_cli
from test_console import OPS, form_token, gw, lookup, signed_in  # noqa: F401 (gw is the fixture)
from test_lists_api import call
from test_sms_http import suppress

from gateway.model import Channel, Reason

PERSON = "+12125550177"
LONG = "x" * 2001

# (address, scope, level, evidence): accepted by every door, or refused by every door
CONSENTS = [
    ((PERSON, "acme", "express_written", "signed form 12"), True),
    ((PERSON, "global", "express", ""), True),  # evidence is optional
    ((PERSON, "acme", "none", "unticked on the order form"), True),  # a recorded refusal
    ((PERSON, "acme", "maybe", "web form"), False),
    ((PERSON, "nobody", "express", "web form"), False),
    (("12345", "acme", "express", "web form"), False),
    ((PERSON, "acme", "express", LONG), False),
    ((PERSON, "acme", "express", "bell \x07 in it"), False),
]
# (address, scope, reason, note) of a suppression to lift (one with reason stop in scope acme exists);
# an empty reason or note is one not given
LIFTS = [
    ((PERSON, "acme", "stop", "asked in writing"), True),
    ((PERSON, "acme", "stop", ""), True),  # a note is welcome, not required
    (
        (PERSON, "acme", "", "asked in writing"),
        True,
    ),  # no reason: every entry in that scope (an erasure never)
    ((PERSON, "acme", "stop", "x" * 501), False),
    ((PERSON, "acme", "erased", "asked in writing"), False),  # an erasure is never lifted by hand
    ((PERSON, "acme", "teleported", "asked in writing"), False),
    ((PERSON, "nobody", "stop", "asked in writing"), False),
    (("not-an-address", "acme", "stop", "asked in writing"), False),
]
# (address, scope, note)
REVOKES = [
    ((PERSON, "acme", "by phone"), True),
    ((PERSON, "acme", ""), True),
    ((PERSON, "nobody", "by phone"), False),
    (("12345", "acme", "by phone"), False),
]


def _given(**values: str) -> dict[str, str]:
    return {name: value for name, value in values.items() if value}


def _flags(**values: str) -> list[str]:
    return [arg for name, value in _given(**values).items() for arg in (f"--{name}", value)]


def _scope_flags(scope: str) -> list[str]:
    return ["--global"] if scope == "global" else ["--sender", scope]


class Doors:
    def __init__(self, gw) -> None:
        self.gw = gw
        self.browser = signed_in(gw)

    # -- the command line: exit 0 is accepted, 1 or 2 with one line on stderr is refused

    def cli(self, *args: str) -> bool:
        code, _, err = run_cli(*args, "--config", str(self.gw.config))
        assert code == 0 or (code in (1, 2) and err.startswith("gateway: ") or "not removed" in err), err
        assert "Traceback" not in err
        return code == 0

    # -- the HTTP API: 2xx is accepted, 400 or 409 with an error code is refused

    def api(self, method: str, path: str, body: dict | None = None) -> bool:
        status, answer = call(self.gw, method, path, OPS, body)
        assert status < 300 or (status in (400, 409) and answer["error"]["code"]), (status, answer)
        return status < 300

    # -- the console: a redirect back to the lookup is accepted, a "Not done" page is refused

    def console(self, action: str, form: dict) -> bool:
        token = form_token(lookup(self.browser, PERSON))
        status, body, _ = self.browser.open(f"/ops/actions/{action}", {**form, "csrf": token})
        assert status == 303 or (status == 400 and "Not done" in body), (status, body[:300])
        return status == 303


def _channel(address: str) -> str:
    return "email" if "@" in address else "sms"


def test_recording_consent_is_accepted_and_refused_alike_by_every_door(gw):
    doors = Doors(gw)
    for (address, scope, level, evidence), accepted in CONSENTS:
        cli = doors.cli(
            "consent",
            "add",
            address,
            "--channel",
            _channel(address),
            *_scope_flags(scope),
            "--level",
            level,
            "--evidence",
            evidence,
        )
        api = doors.api(
            "POST", "/v1/consents", {"address": address, "scope": scope, "level": level, "evidence": evidence}
        )
        console = doors.console(
            "record-consent", {"address": address, "scope": scope, "level": level, "evidence": evidence}
        )
        assert (cli, api, console) == (accepted,) * 3, (address, scope, level, evidence[:20])


def test_lifting_a_suppression_is_accepted_and_refused_alike_by_every_door(gw):
    doors = Doors(gw)
    for (address, scope, reason, note), accepted in LIFTS:
        results = []
        for door in ("cli", "api", "console"):
            suppress(gw.db, PERSON, Reason.STOP, scope="acme")
            if door == "cli":
                flags = _flags(reason=reason, note=note)
                results.append(
                    doors.cli(
                        "suppress",
                        "remove",
                        address,
                        "--channel",
                        _channel(address),
                        *_scope_flags(scope),
                        *flags,
                    )
                )
            elif door == "api":
                query = urllib.parse.urlencode(_given(scope=scope, reason=reason, note=note))
                results.append(doors.api("DELETE", f"/v1/suppressions/{urllib.parse.quote(address)}?{query}"))
            else:
                form = {"address": address, "scope": scope, "reason": reason, "note": note}
                results.append(doors.console("remove-suppression", form))
        assert results == [accepted] * 3, (address, scope, reason, note[:20], results)


def test_revoking_consent_is_accepted_and_refused_alike_by_every_door(gw):
    doors = Doors(gw)
    for (address, scope, note), accepted in REVOKES:
        results = []
        for door in ("cli", "api", "console"):
            assert doors.api("POST", "/v1/consents", {"address": PERSON, "scope": "acme", "level": "express"})
            if door == "cli":
                flags = _flags(note=note)
                results.append(
                    doors.cli(
                        "consent",
                        "revoke",
                        address,
                        "--channel",
                        _channel(address),
                        *_scope_flags(scope),
                        *flags,
                    )
                )
            elif door == "api":
                query = urllib.parse.urlencode(_given(scope=scope, note=note))
                results.append(doors.api("DELETE", f"/v1/consents/{urllib.parse.quote(address)}?{query}"))
            else:
                form = {"address": address, "scope": scope, "note": note}
                results.append(doors.console("revoke-consent", form))
        assert results == [accepted] * 3, (address, scope, results)


def test_revoking_with_no_scope_named_revokes_in_every_scope_on_the_cli_and_the_api(gw):
    doors = Doors(gw)
    for revoke in (
        lambda: doors.cli("consent", "revoke", PERSON, "--channel", "sms"),
        lambda: doors.api("DELETE", f"/v1/consents/{urllib.parse.quote(PERSON)}"),
    ):
        for scope in ("acme", "global"):
            assert doors.api("POST", "/v1/consents", {"address": PERSON, "scope": scope, "level": "express"})
        assert revoke()
        status, answer = call(gw, "GET", f"/v1/consents?address={urllib.parse.quote(PERSON)}")
        assert status == 200 and all(c["revoked_at"] for c in answer["consents"])


def test_every_change_is_audited_with_the_door_that_made_it(gw):
    doors = Doors(gw)
    assert doors.cli("consent", "add", PERSON, "--channel", "sms", "--sender", "acme", "--level", "express")
    assert doors.api("POST", "/v1/consents", {"address": PERSON, "scope": "acme", "level": "express"})
    assert doors.console("record-consent", {"address": PERSON, "scope": "acme", "level": "express"})
    assert doors.api("POST", "/v1/suppressions", {"address": PERSON, "scope": "acme", "reason": "manual"})
    assert doors.console(
        "remove-suppression", {"address": PERSON, "scope": "acme", "reason": "manual", "note": "by phone"}
    )

    async def trail():
        store = gw.store()
        try:
            return await store.audit_log(Channel.SMS, PERSON)
        finally:
            await store.close()

    seen = [(a.actor.split(" ")[0], a.action) for a in reversed(asyncio.run(trail()))]
    assert seen == [
        ("cli", "consent.add"),
        ("api", "consent.add"),
        ("console", "consent.add"),
        ("api", "suppression.add"),
        ("console", "suppression.remove"),
    ]


@pytest.mark.parametrize("reason", ["erased"])
def test_an_erasure_is_made_only_by_forget(gw, reason):
    doors = Doors(gw)
    assert not doors.cli("suppress", "add", PERSON, "--channel", "sms", "--global", "--reason", reason)
    assert not doors.api("POST", "/v1/suppressions", {"address": PERSON, "reason": reason})
    assert doors.api("POST", "/v1/forget", {"address": PERSON})
    assert not doors.api("DELETE", f"/v1/suppressions/{urllib.parse.quote(PERSON)}?scope=global")
