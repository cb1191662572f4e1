"""Unsubscribe tokens: signed, scoped, free of readable personal data; forged or altered ones are refused."""

from __future__ import annotations

import base64

from gateway.addresses import address_hash
from gateway.model import Channel
from gateway.tokens import TokenSigner

NEW, OLD = b"new-secret-0123456789abcdef", b"old-secret-0123456789abcdef"


def test_round_trip_without_the_address_in_clear():
    signer = TokenSigner([NEW])
    token = signer.make(Channel.EMAIL, "acme", "bob@example.com", 1_780_000_000)
    assert b"bob" not in base64.urlsafe_b64decode(token + "==") and "bob" not in token
    read = signer.read(token)
    assert (read.channel, read.scope, read.address_hash, read.issued_at) == (
        Channel.EMAIL,
        "acme",
        address_hash("bob@example.com"),
        1_780_000_000,
    )


def test_forged_altered_and_garbage_tokens_are_refused():
    signer = TokenSigner([NEW])
    token = signer.make(Channel.SMS, "acme", "+13055550123", 1)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert signer.read(flipped) is None
    assert TokenSigner([b"another-secret-0123456789"]).read(token) is None
    for junk in ("", "x", "!!!!", "A" * 600, token[:-3]):
        assert signer.read(junk) is None


def test_rotation_old_secrets_still_verify_new_ones_sign():
    old_token = TokenSigner([OLD]).make(Channel.EMAIL, "acme", "a@example.com", 5)
    rotated = TokenSigner([NEW, OLD])
    assert rotated.read(old_token).scope == "acme"
    new_token = rotated.make(Channel.EMAIL, "acme", "a@example.com", 5)
    assert TokenSigner([NEW]).read(new_token) is not None and TokenSigner([OLD]).read(new_token) is None


def test_secret_from_env_or_made_once_in_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TOK", "s1-0123456789abcdef,s0-0123456789abcdef")
    from_env = TokenSigner.from_config("TOK", None)
    assert from_env.read(TokenSigner([b"s0-0123456789abcdef"]).make(Channel.EMAIL, "a", "x@y.example", 1))
    monkeypatch.delenv("TOK")
    path = tmp_path / "state" / "token-secret"
    first = TokenSigner.from_config("TOK", str(path))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = TokenSigner.from_config("TOK", str(path))
    assert again.read(first.make(Channel.EMAIL, "a", "x@y.example", 1)) is not None
