"""Whether a message's From address is really its author's: DKIM aligned with the From domain, or SPF for a
return path aligned with it (the two ways DMARC, RFC 7489 3.1, lets a domain vouch for mail).

Used for mail to the unsubscribe address: an opt-out by mail counts for its From address only when this
says the From domain sent it (docs/optouts.md). Runs off the event loop (DNS and RSA are blocking).

DNS goes through `smtp.dns_resolver` when set (the tests point it at a local stub), else the system's.
Alignment is relaxed (RFC 7489 3.1.1) by suffix: `news.acme.example` aligns with `acme.example`, and the
reverse; without a public-suffix list, a bare top-level domain never counts as aligned.

SPF is RFC 7208's check_host() for the mechanisms mail uses (`all`, `include`, `a`, `mx`, `ip4`, `ip6`,
`exists`, the `redirect` modifier), with its limits: 10 lookups that cost DNS, 2 void lookups. A term with
a macro is not evaluated (no match); `ptr` never matches (RFC 7208 5.5: "do not use").

Everything here is bounded, since anyone can make the gateway run it (mail to its own addresses needs no
AUTH) with DNS records they write: at most `_QUERIES` DNS queries per message, each answered within
`_QUERY_SECONDS`, all within `DEADLINE` seconds (RFC 7208 4.6.4 suggests at least 20); DKIM keys over
4,096 bits or with an exponent over 2^32 are not used (pure-Python RSA with a huge key would hold the
interpreter for seconds), at most 3 signatures are tried; any error is "not vouched for", never a crash.
"""

from __future__ import annotations

import base64
import email.utils
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Sequence

import dkim
import dkim.crypto
import dns.exception
import dns.resolver

from . import lineends

log = logging.getLogger("gateway.mail")

_CIDR = re.compile(r"(?:/(\d{1,2}))?(?://(\d{1,3}))?")  # "", "/24", "//64", "/24//64"
_LOOKUP_LIMIT = 10
_VOID_LIMIT = 2
_QUERIES = 30  # DNS queries for one message, DKIM and SPF together (an mx term's address lookups too)
_QUERY_SECONDS = 2.0
DEADLINE = 20.0
_MAX_KEY_BITS = 4096
_MAX_SIGNATURES = 3


class Budget(Exception):
    """The message's DNS budget (queries or time) is spent."""


class Dns:
    """A synchronous resolver: answers, or [] when the name has none (NXDOMAIN, no data). One per message:
    it counts its queries and its time (`Budget` past either)."""

    def __init__(
        self, server: tuple[str, int] | None = None, timeout: float = _QUERY_SECONDS, *,
        queries: int = _QUERIES, deadline: float = DEADLINE,
    ) -> None:  # fmt: skip
        self.server, self.timeout = server, timeout
        self.resolver = dns.resolver.Resolver(configure=server is None)
        if server is not None:
            self.resolver.nameservers = [server[0]]
            self.resolver.port = server[1]
        self.resolver.lifetime = timeout
        self.left = queries
        self.until = time.monotonic() + deadline

    def fresh(self) -> Dns:
        """A resolver with a budget of its own, for the next message."""
        return Dns(self.server, self.timeout)

    def _answers(self, name: str, rdtype: str) -> list:
        remaining = self.until - time.monotonic()
        if self.left <= 0 or remaining <= 0:
            raise Budget(f"DNS budget spent ({_QUERIES} queries, {DEADLINE:g} s)")
        self.left -= 1
        try:
            return list(
                self.resolver.resolve(name, rdtype, search=False, lifetime=min(self.timeout, remaining))
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []

    def txt(self, name: str) -> list[str]:
        return [b"".join(r.strings).decode("utf-8", "replace") for r in self._answers(name, "TXT")]

    def addresses(self, name: str, v6: bool) -> list[str]:
        return [r.address for r in self._answers(name, "AAAA" if v6 else "A")]

    def mx(self, name: str) -> list[str]:
        return [str(r.exchange).rstrip(".") for r in self._answers(name, "MX")][:10]

    def dkim_txt(self, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's `dnsfunc`; a key too costly to check (`usable_key`) is as good as none."""
        try:
            found = self._answers(name.decode("ascii").rstrip("."), "TXT")
        except (UnicodeDecodeError, dns.exception.DNSException, Budget) as exc:
            raise dkim.DnsTimeoutError(str(exc)) from None
        record = b"".join(found[0].strings) if found else None
        return record if record is not None and usable_key(record) else None


def usable_key(record: bytes) -> bool:
    """An RSA key of at most 4,096 bits with an exponent under 2^32, or any other kind (Ed25519 costs
    what it costs); a record that does not parse is left to dkimpy to refuse."""
    tags = dict(t.strip().partition(b"=")[::2] for t in record.split(b";") if b"=" in t)
    if tags.get(b"k", b"rsa").strip() != b"rsa":
        return True
    try:
        key = dkim.crypto.parse_public_key(base64.b64decode(b"".join(tags.get(b"p", b"").split())))
    except Exception:  # not a key dkimpy can read: it says so itself
        return True
    return key["modulus"].bit_length() <= _MAX_KEY_BITS and key["publicExponent"] < 2**32


def aligned(domain: str, from_domain: str) -> bool:
    a, b = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    return "." in shorter and longer.endswith("." + shorter)


def dkim_domains(raw: bytes, resolver: Dns, limit: int = _MAX_SIGNATURES) -> list[str]:
    """The d= domains of the message's DKIM signatures that verify."""
    return [domain for domain, _ in dkim_signatures(raw, resolver, limit)]


def dkim_signatures(
    raw: bytes, resolver: Dns, limit: int = _MAX_SIGNATURES
) -> list[tuple[str, frozenset[str]]]:
    """(d= domain, the header fields it signs, lower-case) of each DKIM signature that verifies."""
    try:
        checker = dkim.DKIM(raw)
        count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    except Exception:  # the library's own parse of a hostile message
        return []
    found = []
    for index in range(min(count, limit)):
        try:
            if checker.verify(idx=index, dnsfunc=resolver.dkim_txt) and checker.domain:
                signs = frozenset(h.decode("ascii", "replace").lower() for h in checker.include_headers)
                found.append((checker.domain.decode("ascii", "replace"), signs))
        except Exception as exc:  # dkim.DKIMException, DNS failures, malformed keys: not verified
            log.debug("DKIM signature %d not verified: %s", index, exc)
    return found


def _signed_to(raw: bytes, signs: frozenset[str], ours: Callable[[str], bool]) -> bool:
    """Whether the message names one of the gateway's addresses in a To or Cc that the signature covers
    (and holds one of that field only: a signature covers the last instance, and a reader may show the
    first). A signed message sent elsewhere (From the person, To a friend) and replayed to the gateway
    does not: anyone who ever received mail from someone could otherwise opt them out."""
    if lineends.has_bare(raw):  # a bare CR: Python's parser and dkimpy's would see different fields
        return False
    try:  # the fields as dkimpy read them for the signature: the same view, whatever the bytes are
        fields, _ = dkim.rfc822_parse(raw)
    except dkim.MessageFormatError:
        return False
    for name in ("to", "cc"):
        values = [
            v.decode("utf-8", "replace").replace("\r\n", "")
            for n, v in fields
            if n.decode("ascii", "replace").lower() == name
        ]
        named = email.utils.getaddresses([str(values[0])]) if len(values) == 1 and name in signs else []
        if any(ours(address) for _, address in named):
            return True
    return False


class _Spf:
    def __init__(self, resolver: Dns, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        self.dns, self.ip, self.lookups, self.voids = resolver, ip, 0, 0

    def _count(self) -> None:
        self.lookups += 1
        if self.lookups > _LOOKUP_LIMIT:
            raise _PermError("more than 10 DNS lookups")

    def _void(self, found: Sequence) -> Sequence:
        if not found:
            self.voids += 1
            if self.voids > _VOID_LIMIT:
                raise _PermError("more than 2 void lookups")
        return found

    def _record(self, domain: str) -> str | None:
        records = [
            t for t in self.dns.txt(domain) if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")
        ]
        if len(records) > 1:
            raise _PermError("more than one SPF record")
        return records[0] if records else None

    def _in(self, hosts: Sequence[str], prefix4: int, prefix6: int) -> bool:
        v6 = self.ip.version == 6
        prefix = prefix6 if v6 else prefix4
        for host in hosts:
            for address in self._void(self.dns.addresses(host, v6)):
                if self.ip in ipaddress.ip_network(f"{address}/{prefix}", strict=False):
                    return True
        return False

    def check(self, domain: str, depth: int = 0) -> str:
        """pass | fail | softfail | neutral | none for the IP sending for `domain`."""
        if depth > _LOOKUP_LIMIT:
            raise _PermError("include loop")
        record = self._record(domain)
        if record is None:
            return "none"
        redirect = None
        for term in record.split()[1:]:
            if "=" in term.split(":", 1)[0]:
                name, _, value = term.partition("=")
                if name.lower() == "redirect":
                    redirect = value
                continue
            qualifier = term[0] if term[0] in "+-~?" else "+"
            mechanism = term.lstrip("+-~?")
            if self._matches(mechanism, domain, depth):
                return {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}[qualifier]
        if redirect is not None and "%" not in redirect:
            self._count()
            result = self.check(redirect, depth + 1)
            return "fail" if result == "none" else result  # RFC 7208 6.1: no record there is a permerror
        return "neutral"

    def _matches(self, mechanism: str, domain: str, depth: int) -> bool:
        head, slash, suffix = mechanism.partition("/")
        name, _, arg = head.partition(":")
        name = name.lower()
        lengths = _CIDR.fullmatch(slash + suffix)
        if lengths is None and name not in ("ip4", "ip6"):
            raise _PermError(f"bad prefix length in {mechanism!r}")
        prefix4 = int(lengths.group(1) or 32) if lengths else 32
        prefix6 = int(lengths.group(2) or 128) if lengths else 128
        if prefix4 > 32 or prefix6 > 128:
            raise _PermError(f"bad prefix length in {mechanism!r}")
        target = arg or domain
        if "%" in target:
            return False
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            try:
                network = ipaddress.ip_network(mechanism.partition(":")[2], strict=False)
            except ValueError:
                raise _PermError(f"bad {name}") from None
            return self.ip.version == network.version and self.ip in network
        if name == "include":
            self._count()
            result = self.check(target, depth + 1)
            if result == "none":
                raise _PermError(f"include:{target} has no SPF record")
            return result == "pass"
        if name == "a":
            self._count()
            return self._in([target], prefix4, prefix6)
        if name == "mx":
            self._count()
            return self._in(self._void(self.dns.mx(target))[:10], prefix4, prefix6)
        if name == "exists":
            self._count()
            return bool(self._void(self.dns.addresses(target, False)))
        if name == "ptr":
            self._count()
            return False
        raise _PermError(f"unknown mechanism {name!r}")


class _PermError(Exception):
    pass


def spf(resolver: Dns, ip: str, domain: str) -> str:
    """RFC 7208's result for `ip` sending with a return path (or HELO) in `domain`: pass, fail,
    softfail, neutral, none, permerror or temperror."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "permerror"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    try:
        return _Spf(resolver, address).check(domain)
    except (_PermError, ValueError):  # ValueError: an address or network the record writes wrong
        return "permerror"
    except (dns.exception.DNSException, Budget):
        return "temperror"


def from_authenticated(
    raw: bytes,
    from_domain: str,
    mail_from: str,
    helo: str | None,
    peer: str | None,
    resolver: Dns,
    ours: Callable[[str], bool] | None = None,
) -> str | None:
    """How the From domain vouches for this message ("dkim d=…", "spf …"), or None when it does not (or
    when finding out fails in any way: the request is then kept for review). `ours`: the gateway's own
    addresses, one of which an aligned DKIM signature must cover in To or Cc (`_signed_to`); SPF binds
    the message to the client sending it now, so a replay from elsewhere fails it anyway."""
    try:
        for domain, signs in dkim_signatures(raw, resolver):
            if aligned(domain, from_domain) and (ours is None or _signed_to(raw, signs, ours)):
                return f"dkim d={domain}"
        envelope_domain = mail_from.rpartition("@")[2] if "@" in mail_from else (helo or "")
        aligned_envelope = bool(envelope_domain) and aligned(envelope_domain, from_domain)
        if peer and aligned_envelope and spf(resolver, peer, envelope_domain) == "pass":
            return f"spf {envelope_domain}"
    except Exception as exc:  # a record or a message that trips the libraries: not vouched for
        log.warning("DKIM/SPF check of mail from the %s domain failed: %r", from_domain, exc)
    return None
