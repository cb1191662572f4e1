"""Microseconds per check: the rule engine on 5 KB and 100 KB HTML newsletters and on a text, and one
recipient's facts looked up among 1,000,000 suppression entries.

    .venv/bin/python bench/policy.py [--entries 1000000]

Prints a table. "email check" is MIME parsing, HTML rendering and every rule (what the SMTP door runs
after DATA, facts already fetched); "sms check" is every SMS rule for a number seen before, and
"sms check, new number" includes parsing and zone lookup of a number never seen.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.addresses import address_hash, phone_info
from gateway.content.mime import parse_email
from gateway.model import Category, Channel, EmailMessage, Reason, RecipientFacts, SmsMessage, Suppression
from gateway.policy import evaluate_email, evaluate_sms
from gateway.policy.settings import Policy, SenderSettings
from gateway.store.sqlite import SqliteStore

AT = datetime(2026, 5, 5, 16, 0, tzinfo=UTC)
SENDER = SenderSettings(
    name="acme",
    brand="Acme Outfitters",
    category=Category.MARKETING,
    allowed_categories=frozenset(Category),
    from_domains=("news.acme.example",),
    physical_address="123 Main St, Suite 4, Springfield, IL 62701",
)
POLICY = Policy()

PRODUCT = """<tr><td class="product" style="padding:12px 24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;
color:#333333;line-height:22px"><table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr>
<td width="120" style="padding-right:16px"><a href="https://shop.acme.example/p/{n}?utm_source=news&amp;utm_medium=email">
<img src="https://cdn.acme.example/img/{n}.jpg" width="120" alt="Trail jacket {n}" style="display:block;border:0"></a></td>
<td style="vertical-align:top"><h3 style="margin:0 0 6px;font-size:17px">Trail jacket no. {n}</h3>
<p style="margin:0 0 8px">Windproof, waterproof &amp; packs into its own pocket &mdash; now {n}% lighter.</p>
<a href="https://shop.acme.example/p/{n}" style="color:#0a66c2;text-decoration:underline">Shop now &rarr;</a></td></tr></table></td></tr>
"""
HEAD = """<!doctype html><html><head><meta charset="utf-8"><title>Acme</title><style>
body{{margin:0;padding:0}} .product td{{font-family:Helvetica}} @media (max-width:600px){{.product{{padding:8px}}}}
</style></head><body style="margin:0;padding:0;background:#f4f4f4">
<div style="display:none;max-height:0;overflow:hidden">Spring picks inside {pad}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f4f4"><tr><td align="center">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="background:#ffffff">
"""
FOOT = """<tr><td style="padding:24px;font-size:12px;color:#777777;font-family:Helvetica,Arial,sans-serif">
This email is an advertisement from Acme Outfitters.<br>Acme Outfitters &middot; 123 Main St, Suite 4 &middot;
Springfield, IL 62701<br><a href="https://acme.example/u/abc123" style="color:#777777">Unsubscribe</a> &middot;
<a href="https://acme.example/prefs">Manage preferences</a></td></tr></table></td></tr></table></body></html>
"""


def newsletter(size: int) -> bytes:
    body = HEAD.format(pad="&zwnj;&nbsp;" * 20)
    n = 0
    while len(body) + len(FOOT) < size:
        n += 1
        body += PRODUCT.format(n=n)
    body += FOOT
    head = (
        "From: Acme Outfitters <news@news.acme.example>\r\nTo: reader@example.com\r\n"
        "Subject: Spring picks for you\r\nDate: Tue, 05 May 2026 12:00:00 -0400\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + body.encode()


def per_call_us(fn, rounds: int) -> tuple[float, float]:
    """Median and p99 of single calls, in microseconds."""
    samples = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def email_check(raw: bytes) -> None:
    content = parse_email(raw)
    message = EmailMessage("acme", ("reader@example.com",), content)
    ev = evaluate_email(
        message, {"reader@example.com": RecipientFacts("reader@example.com")}, SENDER, POLICY, AT
    )
    assert ev.passed, ev.violations


SMS = SmsMessage(
    "acme",
    "+13055550123",
    "Acme Outfitters: 20% off trail jackets today at acme.example/s. Reply STOP to opt out",
    Category.MARKETING,
)
SMS_FACTS = {"+13055550123": RecipientFacts("+13055550123")}


def sms_check() -> None:
    evaluate_sms(SMS, SMS_FACTS, SENDER, POLICY, AT)


def fill_store(store: SqliteStore, entries: int) -> list[str]:
    rng = random.Random(7)
    probes = []

    def rows():
        for i in range(entries):
            address = f"user{i}.{rng.randrange(10**9)}@example{i % 997}.com"
            if i % (entries // 1000 or 1) == 0:
                probes.append(address)
            yield Suppression(
                Channel.EMAIL,
                address_hash(address),
                address,
                "acme" if i % 3 else "global",
                Reason.UNSUBSCRIBE,
                "bench",
                AT,
            )

    asyncio.run(store.import_suppressions(rows()))
    return probes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    for label, size in (("email check, 5 KB HTML", 5_000), ("email check, 100 KB HTML", 100_000)):
        raw = newsletter(size)
        email_check(raw)
        med, p99 = per_call_us(lambda: email_check(raw), args.rounds)
        rows.append((f"{label} ({len(raw) // 1000} KB)", med, p99))
    sms_check()
    rows.append(("sms check", *per_call_us(sms_check, args.rounds * 5)))
    numbers = iter(f"+1305{n:07d}" for n in range(2_000_000, 2_000_000 + args.rounds * 5))

    def cold_sms() -> None:
        to = next(numbers)
        evaluate_sms(
            SmsMessage("acme", to, SMS.body, Category.MARKETING), {to: RecipientFacts(to)}, SENDER, POLICY, AT
        )

    rows.append(("sms check, new number", *per_call_us(cold_sms, args.rounds)))
    phone_info.cache_clear()

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(f"{tmp}/bench.db")
        t = time.perf_counter()
        probes = fill_store(store, args.entries)
        fill_s = time.perf_counter() - t
        misses = [f"nobody{i}@example.org" for i in range(len(probes))]
        it = iter(range(10**9))

        def lookup(pool: list[str]) -> None:
            address = pool[next(it) % len(pool)]
            step = store.facts(Channel.EMAIL, "acme", [address], AT)
            try:  # the embedded engine never suspends: drive the coroutine without an event loop's overhead
                step.send(None)
            except StopIteration:
                return
            raise RuntimeError("facts() suspended")

        rows.append(
            (
                f"facts lookup, hit, {args.entries:,} entries",
                *per_call_us(lambda: lookup(probes), args.rounds),
            )
        )
        rows.append(
            (
                f"facts lookup, miss, {args.entries:,} entries",
                *per_call_us(lambda: lookup(misses), args.rounds),
            )
        )
        asyncio.run(store.close())

    print(f"{'what':<44} {'median µs':>10} {'p99 µs':>10}")
    for label, med, p99 in rows:
        print(f"{label:<44} {med:>10.1f} {p99:>10.1f}")
    print(
        f"(store filled with {args.entries:,} entries in {fill_s:.1f} s; lookups are the store call as awaited inside the server's loop)"
    )


if __name__ == "__main__":
    main()
