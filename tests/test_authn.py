"""Who vouches for a From address (gateway/mail/authn.py): DKIM aligned with it, or SPF for an aligned
return path, through a real resolver asking a DNS server on a loopback port."""

from __future__ import annotations

import dkim
import pytest
from dns_stub import DnsStub
from helpers import REPO

from gateway.mail.authn import Dns, aligned, dkim_domains, from_authenticated, spf

KEYS = REPO / "tests" / "keys"
PUBLIC = (KEYS / "dkim-test.pub.b64").read_text().strip()
PRIVATE = (KEYS / "dkim-test.pem").read_bytes()
MESSAGE = b"From: Reader <reader@mail.example.com>\r\nTo: unsubscribe@localhost\r\nSubject: unsubscribe\r\n\r\nplease\r\n"
RECORDS = {
    ("s1._domainkey.example.com", "TXT"): [f"v=DKIM1; k=rsa; p={PUBLIC}"],
    ("example.com", "TXT"): ["v=spf1 ip4:192.0.2.0/24 include:_spf.example.com -all"],
    ("_spf.example.com", "TXT"): ["v=spf1 ip6:2001:db8::/32 a:relay.example.com/28 ~all"],
    ("relay.example.com", "A"): ["198.51.100.7"],
    ("mx-only.example", "TXT"): ["v=spf1 mx -all"],
    ("mx-only.example", "MX"): ["10 mx.mx-only.example"],
    ("mx.mx-only.example", "A"): ["203.0.113.9"],
    ("redirected.example", "TXT"): ["v=spf1 redirect=example.com"],
    ("loop.example", "TXT"): ["v=spf1 include:loop.example -all"],
    ("two.example", "TXT"): ["v=spf1 -all", "v=spf1 +all"],
    ("macro.example", "TXT"): ["v=spf1 exists:%{i}.bl.example -all"],
}


@pytest.fixture(scope="module")
def stub():
    with DnsStub(RECORDS) as running:
        yield running


@pytest.fixture
def resolver(stub):
    return Dns(("127.0.0.1", stub.port), timeout=2)  # one per message, as the gateway makes them


def signed(message: bytes = MESSAGE, domain: bytes = b"example.com") -> bytes:
    return dkim.sign(message, b"s1", domain, PRIVATE, include_headers=[b"from", b"to", b"subject"]) + message


@pytest.mark.parametrize(
    "ip, domain, result",
    [
        ("192.0.2.44", "example.com", "pass"),
        ("203.0.113.1", "example.com", "fail"),
        ("2001:db8::5", "example.com", "pass"),  # through include:
        ("198.51.100.1", "example.com", "pass"),  # a:relay/28 covers .0-.15
        ("198.51.100.77", "example.com", "fail"),
        ("203.0.113.9", "mx-only.example", "pass"),
        ("203.0.113.10", "mx-only.example", "fail"),
        ("192.0.2.1", "redirected.example", "pass"),
        ("192.0.2.1", "nothing.example", "none"),
        ("192.0.2.1", "loop.example", "permerror"),
        ("192.0.2.1", "two.example", "permerror"),
        ("192.0.2.1", "macro.example", "fail"),  # a macro term is not evaluated: it does not match
        ("::ffff:192.0.2.44", "example.com", "pass"),  # a mapped IPv4 peer
        ("not-an-ip", "example.com", "permerror"),
    ],
)
def test_spf_results(resolver, ip, domain, result):
    assert spf(resolver, ip, domain) == result


def test_spf_temporary_error_when_the_dns_does_not_answer():
    silent = Dns(("127.0.0.1", 9), timeout=0.5)  # the discard port: nothing answers
    assert spf(silent, "192.0.2.1", "example.com") == "temperror"


def test_dkim_verified_and_aligned(resolver):
    assert dkim_domains(signed(), resolver) == ["example.com"]
    assert from_authenticated(signed(), "mail.example.com", "", None, None, resolver) == "dkim d=example.com"
    tampered = signed().replace(b"please", b"please!")
    assert dkim_domains(tampered, resolver) == []
    assert from_authenticated(tampered, "mail.example.com", "", None, None, resolver) is None


def _ours(address: str) -> bool:
    return address.lower().startswith("unsubscribe") and address.lower().endswith("@localhost")


def test_a_signed_message_vouches_only_if_its_signature_covers_the_gateway_in_to_or_cc(resolver):
    """A signed message the person sent to someone else, replayed to the gateway, does not opt them out."""
    assert (
        from_authenticated(signed(), "mail.example.com", "", None, None, resolver, _ours)
        == "dkim d=example.com"
    )
    elsewhere = MESSAGE.replace(b"To: unsubscribe@localhost", b"To: friend@elsewhere.example")
    assert from_authenticated(signed(elsewhere), "mail.example.com", "", None, None, resolver, _ours) is None
    # a To added on top of the signed one (a reader shows the first; the signature covers the last)
    stacked = b"To: unsubscribe@localhost\r\n" + signed(elsewhere)
    assert from_authenticated(stacked, "mail.example.com", "", None, None, resolver, _ours) is None
    # a bare CR: Python's parser ends the header block there, dkimpy reads on (and finds the signed To)
    split = signed(elsewhere).replace(
        b"From: Reader", b"To: unsubscribe@localhost\r\nX-A: b\rjunk\r\nFrom: Reader", 1
    )
    assert from_authenticated(split, "mail.example.com", "", None, None, resolver, _ours) is None
    # a signature that does not cover To: the To could be anyone's
    unsigned_to = dkim.sign(MESSAGE, b"s1", b"example.com", PRIVATE, include_headers=[b"from", b"subject"])
    assert (
        from_authenticated(unsigned_to + MESSAGE, "mail.example.com", "", None, None, resolver, _ours) is None
    )
    cc = MESSAGE.replace(
        b"To: unsubscribe@localhost", b"To: friend@elsewhere.example\r\nCc: unsubscribe@localhost"
    )
    with_cc = dkim.sign(cc, b"s1", b"example.com", PRIVATE, include_headers=[b"from", b"to", b"cc"]) + cc
    assert (
        from_authenticated(with_cc, "mail.example.com", "", None, None, resolver, _ours)
        == "dkim d=example.com"
    )


def test_dkim_of_another_domain_does_not_vouch(resolver):
    other = MESSAGE.replace(b"mail.example.com", b"victim.example")
    assert from_authenticated(signed(other), "victim.example", "", None, None, resolver) is None


def test_spf_vouches_only_for_an_aligned_return_path(resolver):
    assert from_authenticated(MESSAGE, "mail.example.com", "x@example.com", None, "192.0.2.9", resolver) == (
        "spf example.com"
    )
    assert from_authenticated(MESSAGE, "victim.example", "x@example.com", None, "192.0.2.9", resolver) is None
    assert (
        from_authenticated(MESSAGE, "mail.example.com", "x@example.com", None, "203.0.113.1", resolver)
        is None
    )


@pytest.mark.parametrize(
    "a, b, result",
    [
        ("example.com", "example.com", True),
        ("news.example.com", "example.com", True),
        ("example.com", "news.example.com", True),
        ("example.com", "badexample.com", False),
        ("com", "example.com", False),  # a bare top-level domain aligns with nothing
    ],
)
def test_alignment(a, b, result):
    assert aligned(a, b) is result


def test_garbage_is_not_verified(resolver):
    assert dkim_domains(b"\x00\xff" * 100, resolver) == []
    junk = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b=AAAA; bh=BBBB; h=from\r\n" + MESSAGE
    assert dkim_domains(junk, resolver) == []


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    length = (
        bytes([size])
        if size < 128
        else bytes([0x80 | ((size.bit_length() + 7) // 8)])
        + size.to_bytes((size.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + body


def _rsa_record(bits: int, exponent: int) -> bytes:
    """A DKIM key record with an RSA public key of this size (not a real key: only its shape counts)."""
    import base64

    def integer(n: int) -> bytes:
        raw = n.to_bytes((n.bit_length() + 8) // 8, "big")
        return _der(0x02, raw)

    rsa = _der(0x30, integer((1 << (bits - 1)) | 1) + integer(exponent))
    algorithm = _der(0x30, bytes.fromhex("06092a864886f70d0101010500"))
    spki = _der(0x30, algorithm + _der(0x03, b"\x00" + rsa))
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki)


def test_dkim_keys_too_costly_to_check_are_not_used():
    from gateway.mail.authn import usable_key

    assert usable_key(_rsa_record(2048, 65537)) and usable_key(_rsa_record(4096, 65537))
    assert not usable_key(_rsa_record(16384, 65537))  # seconds of pure-Python arithmetic per signature
    assert not usable_key(_rsa_record(2048, (1 << 2048) - 1))  # a huge exponent, as slow
    assert usable_key(b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    assert usable_key(b"garbage")  # dkimpy refuses it itself


def test_every_message_has_a_dns_budget():
    import time

    from gateway.mail.authn import Dns

    many = {
        ("many.example", "TXT"): ["v=spf1 " + " ".join(f"a:h{i}.many.example" for i in range(9)) + " -all"]
    }
    many.update({(f"h{i}.many.example", "A"): [f"198.51.100.{i + 1}"] for i in range(9)})
    with DnsStub(many) as stub:
        tight = Dns(("127.0.0.1", stub.port), timeout=2, queries=4)
        assert spf(tight, "192.0.2.1", "many.example") == "temperror"  # out of queries: not a pass
    slow = Dns(("127.0.0.1", 9), timeout=0.3, deadline=0.5)  # nothing answers there
    started = time.monotonic()
    assert spf(slow, "192.0.2.1", "example.com") == "temperror"
    assert time.monotonic() - started < 2


def test_prefix_lengths_out_of_range_are_permerrors(resolver):
    with DnsStub(
        {("broken.example", "TXT"): ["v=spf1 a/99 -all"], ("broken.example", "A"): ["192.0.2.1"]}
    ) as stub:
        assert spf(Dns(("127.0.0.1", stub.port), timeout=2), "192.0.2.1", "broken.example") == "permerror"
