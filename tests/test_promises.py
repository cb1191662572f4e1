"""PROMISES.md, row by row: each company's example config keeps its promise, shown through `gateway`.

Here the store and the rules alone show each promise; the rows that involve an opt-out channel (links,
replies, the unsubscribe address, STOP, erasure) are shown end to end in test_promises_optout.py.
"""

from __future__ import annotations

import json

import pytest
from helpers import REPO, config_copy, run_cli

AT = "2026-05-05T16:00:00+00:00"
EXAMPLES = REPO / "config" / "examples"


def email(
    frm: str,
    to: str,
    subject: str,
    *,
    address: str | None,
    unsubscribe: str | None = "Unsubscribe",
    label: bool = True,
    brand: str = "Us",
) -> bytes:
    footer = []
    if label:
        footer.append("This email is an advertisement.")
    if address:
        footer.append(address)
    if unsubscribe:
        footer.append(f'<a href="https://{frm.split("@")[1]}/u/123">{unsubscribe}</a>')
    html = (
        f"<html><body><p>News from {brand}: our latest offers.</p>"
        f"<p style='font-size:11px'>{'<br>'.join(footer)}</p></body></html>"
    )
    return (
        f"From: {brand} <{frm}>\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}"
    ).encode()


class Company:
    def __init__(self, example: str, tmp_path):
        self.tmp = tmp_path
        self.config = str(config_copy(EXAMPLES / example, tmp_path))

    def cli(self, *args: str) -> tuple[int, str, str]:
        return (
            run_cli(*args[:2], "--config", self.config, *args[2:])
            if args[0] in ("suppress", "consent")
            else run_cli(args[0], "--config", self.config, *args[1:])
        )

    def check(self, sender: str, message: bytes) -> list[str]:
        path = self.tmp / "message.eml"
        path.write_bytes(message)
        code, out, err = run_cli("check", "--config", self.config, "--sender", sender, str(path), "--at", AT)
        assert code in (0, 1), err
        result = json.loads(out)
        assert (code == 0) == (result["verdict"] == "pass")
        return sorted({v["code"] for v in result["violations"]})

    def check_sms(self, sender: str, to: str, body: str, category: str) -> list[str]:
        code, out, err = run_cli(
            "check",
            "--config",
            self.config,
            "--sms",
            "--sender",
            sender,
            "--to",
            to,
            "--body",
            body,
            "--category",
            category,
            "--at",
            AT,
        )
        assert code in (0, 1), err
        return sorted({v["code"] for v in json.loads(out)["violations"]})

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; consents are dated before AT, revocations just before it."""
        if args[:2] == ("consent", "add") and "--obtained-at" not in args:
            args = (*args, "--obtained-at", "2026-01-01T00:00:00+00:00")
        if args[:2] == ("consent", "revoke"):
            args = (*args, "--at", "2026-05-01T00:00:00+00:00")
        code, out, err = self.cli(*args)
        assert code == 0, err
        return out


# -- 000 The Customize Boxes --------------------------------------------------------------------------

BOXES_ADDRESS = "1200 Commerce Drive, Ste 210, Dallas, Texas 75247"


def boxes_newsletter(to: str) -> bytes:
    return email(
        "news@thecustomizeboxes.com", to, "New box styles", address=BOXES_ADDRESS, brand="The Customize Boxes"
    )


def boxes_receipt(to: str) -> bytes:
    return email(
        "orders@thecustomizeboxes.com", to, "Your order #1001", address=None, unsubscribe=None, label=False
    )


@pytest.fixture
def boxes(tmp_path):
    return Company("000-customize-boxes.toml", tmp_path)


def test_000_signup_subscribes_and_anyone_may_quit(boxes):
    boxes.ok(
        "consent",
        "add",
        "ann@example.com",
        "--channel",
        "email",
        "--sender",
        "newsletter",
        "--level",
        "implied",
        "--source",
        "registration",
    )
    assert boxes.check("newsletter", boxes_newsletter("ann@example.com")) == []
    boxes.ok(
        "suppress",
        "add",
        "ann@example.com",
        "--channel",
        "email",
        "--sender",
        "newsletter",
        "--reason",
        "unsubscribe",
    )
    assert boxes.check("newsletter", boxes_newsletter("ann@example.com")) == ["SUPPRESSED"]


def test_000_order_form_opt_out_stops_promotions_not_orders(boxes):
    boxes.ok(
        "consent",
        "add",
        "bob@example.com",
        "--channel",
        "email",
        "--sender",
        "newsletter",
        "--level",
        "implied",
    )
    boxes.ok("consent", "revoke", "bob@example.com", "--channel", "email", "--sender", "newsletter")
    assert boxes.check("newsletter", boxes_newsletter("bob@example.com")) == ["CONSENT_MISSING"]
    assert boxes.check("orders", boxes_receipt("bob@example.com")) == []


def test_000_quit_all_correspondence_is_never_contacted_even_as_a_hash(boxes, tmp_path):
    boxes.ok("consent", "add", "cy@example.com", "--channel", "email", "--global", "--level", "implied")
    boxes.ok("suppress", "add", "cy@example.com", "--channel", "email", "--global", "--reason", "manual")
    assert boxes.check("newsletter", boxes_newsletter("cy@example.com")) == ["SUPPRESSED"]
    assert boxes.check("orders", boxes_receipt("cy@example.com")) == ["SUPPRESSED"]
    # an erased account keeps only the hash of its address, and the hash still blocks
    from gateway.addresses import address_hash

    csv_file = tmp_path / "erased.csv"
    csv_file.write_text(
        f"channel,address_hash,scope,reason\nemail,{address_hash('dee@example.com')},global,erased\n"
    )
    boxes.ok("suppress", "import", str(csv_file))
    assert boxes.check("orders", boxes_receipt("dee@example.com")) == ["SUPPRESSED"]
    assert "dee@example.com" not in boxes.ok("suppress", "export")


# -- 001 dealer -------------------------------------------------------------------------------------------

DEALER_ADDRESS = "88 Motor Way, Detroit, MI 48201"


@pytest.fixture
def dealer(tmp_path):
    return Company("001-dealer.toml", tmp_path)


def test_001_promotions_only_with_prior_approval(dealer):
    promo = email(
        "deals@offers.dealer.example", "eve@example.com", "Festive discounts", address=DEALER_ADDRESS
    )
    assert dealer.check("promotions", promo) == ["CONSENT_MISSING"]
    dealer.ok(
        "consent",
        "add",
        "eve@example.com",
        "--channel",
        "email",
        "--sender",
        "promotions",
        "--level",
        "express",
        "--source",
        "showroom form",
        "--evidence",
        "signed form #8812",
    )
    assert dealer.check("promotions", promo) == []
    dealer.ok(
        "suppress",
        "add",
        "eve@example.com",
        "--channel",
        "email",
        "--sender",
        "promotions",
        "--reason",
        "unsubscribe",
    )
    assert dealer.check("promotions", promo) == ["SUPPRESSED"]


def test_001_opt_out_of_all_communications_keeps_what_law_requires(dealer):
    dealer.ok("consent", "add", "fay@example.com", "--channel", "email", "--global", "--level", "express")
    dealer.ok(
        "suppress", "add", "fay@example.com", "--channel", "email", "--global", "--reason", "unsubscribe"
    )
    promo = email("deals@offers.dealer.example", "fay@example.com", "Launch event", address=DEALER_ADDRESS)
    service = email(
        "care@service.dealer.example", "fay@example.com", "Maintenance tips", address=DEALER_ADDRESS
    )
    invoice = email(
        "billing@billing.dealer.example",
        "fay@example.com",
        "Invoice 2231",
        address=None,
        unsubscribe=None,
        label=False,
    )
    assert dealer.check("promotions", promo) == ["SUPPRESSED"]
    assert dealer.check("service", service) == ["SUPPRESSED"]
    assert dealer.check("billing", invoice) == []


# -- 002 Belkcase -----------------------------------------------------------------------------------------

BELK_ADDRESS = "450 Harbor Blvd, Suite 300, Los Angeles, CA 90012"
BELK_TEXT = "Belkcase: 15% off phone cases this week. Reply STOP to opt out"


@pytest.fixture
def belk(tmp_path):
    return Company("002-belkcase.toml", tmp_path)


def test_002_offers_only_on_consent_and_withdrawal_counts_next_message(belk):
    assert belk.check_sms("belkcase", "+12125550143", BELK_TEXT, "marketing") == ["CONSENT_MISSING"]
    belk.ok(
        "consent",
        "add",
        "+12125550143",
        "--channel",
        "sms",
        "--sender",
        "belkcase",
        "--level",
        "express_written",
        "--source",
        "checkout",
        "--evidence",
        "SMS terms box ticked",
    )
    assert belk.check_sms("belkcase", "+12125550143", BELK_TEXT, "marketing") == []
    belk.ok("consent", "revoke", "+12125550143", "--channel", "sms")
    assert belk.check_sms("belkcase", "+12125550143", BELK_TEXT, "marketing") == ["CONSENT_MISSING"]

    offer = email(
        "offers@belkcase.com",
        "gil@example.com",
        "Advertisement: new cases",
        address=BELK_ADDRESS,
        unsubscribe="Cancel Subscription",
        brand="Belkcase",
    )
    belk.ok(
        "consent",
        "add",
        "gil@example.com",
        "--channel",
        "email",
        "--sender",
        "belkcase",
        "--level",
        "express",
    )
    assert belk.check("belkcase", offer) == []
    belk.ok("consent", "revoke", "gil@example.com", "--channel", "email", "--sender", "belkcase")
    assert belk.check("belkcase", offer) == ["CONSENT_MISSING"]


def test_002_cancel_subscription_link_counts_as_unsubscribe(belk):
    belk.ok(
        "consent",
        "add",
        "hal@example.com",
        "--channel",
        "email",
        "--sender",
        "belkcase",
        "--level",
        "express",
    )
    with_link = email(
        "offers@belkcase.com",
        "hal@example.com",
        "Offers",
        address=BELK_ADDRESS,
        unsubscribe="Cancel Subscription",
        brand="Belkcase",
    )
    without = email(
        "offers@belkcase.com",
        "hal@example.com",
        "Offers",
        address=BELK_ADDRESS,
        unsubscribe=None,
        brand="Belkcase",
    )
    assert belk.check("belkcase", with_link) == []
    assert belk.check("belkcase", without) == ["CANSPAM_UNSUBSCRIBE"]


def test_002_opting_out_does_not_stop_order_updates(belk):
    belk.ok("suppress", "add", "ivy@example.com", "--channel", "email", "--global", "--reason", "unsubscribe")
    update = email(
        "orders@belkcase.com",
        "ivy@example.com",
        "Your order has shipped",
        address=None,
        unsubscribe=None,
        label=False,
    )
    assert belk.check("belkcase-orders", update) == []
    offer = email("offers@belkcase.com", "ivy@example.com", "Offers", address=BELK_ADDRESS, brand="Belkcase")
    assert "SUPPRESSED" in belk.check("belkcase", offer)


# -- 003 CUSTOMtronics ------------------------------------------------------------------------------------

CT_ADDRESS = "7400 Industrial Parkway, Unit B, Kansas City, MO 64120"


@pytest.fixture
def ct(tmp_path):
    return Company("003-customtronics.toml", tmp_path)


def test_003_texts_are_operational_never_marketing(ct):
    ct.ok(
        "consent",
        "add",
        "+12125550199",
        "--channel",
        "sms",
        "--sender",
        "customtronics-texts",
        "--level",
        "express_written",
    )
    promo = "CUSTOMtronics: 20% off installs. Reply STOP to opt out"
    assert ct.check_sms("customtronics-texts", "+12125550199", promo, "marketing") == ["CATEGORY_NOT_ALLOWED"]
    link = "CUSTOMtronics: your meeting link https://customtronics.com/m/5"
    assert ct.check_sms("customtronics-texts", "+12125550199", link, "transactional") == []


def test_003_can_spam_list(ct):
    bad = email(
        "news@customtronics.com",
        "joe@example.com",
        "Re: your quote",
        address=None,
        unsubscribe=None,
        label=False,
    )
    assert ct.check("customtronics", bad) == [
        "CANSPAM_AD_LABEL",
        "CANSPAM_DECEPTIVE_SUBJECT",
        "CANSPAM_PHYSICAL_ADDRESS",
        "CANSPAM_UNSUBSCRIBE",
    ]
    spoofed = email("news@customtronics-deals.example", "joe@example.com", "Speakers", address=CT_ADDRESS)
    assert ct.check("customtronics", spoofed) == ["CANSPAM_FROM_DOMAIN"]
    good = email(
        "news@customtronics.com", "joe@example.com", "Speakers", address=CT_ADDRESS, brand="CUSTOMtronics"
    )
    assert ct.check("customtronics", good) == []


def test_003_third_party_senders_are_monitored(ct, tmp_path):
    bad = email("agency@customtronics.com", "kim@example.com", "Speakers", address=None)
    path = tmp_path / "agency.eml"
    path.write_bytes(bad)
    code, out, _ = run_cli(
        "check", "--config", ct.config, "--sender", "partner-agency", str(path), "--at", AT
    )
    result = json.loads(out)
    assert code == 1 and result["mode"] == "monitor"
    assert [v["code"] for v in result["violations"]] == ["CANSPAM_PHYSICAL_ADDRESS"]


def test_003_opt_out_at_once_and_transactional_continues(ct):
    ct.ok("suppress", "add", "lee@example.com", "--channel", "email", "--global", "--reason", "unsubscribe")
    news = email("news@customtronics.com", "lee@example.com", "Speakers", address=CT_ADDRESS)
    assert ct.check("customtronics", news) == ["SUPPRESSED"]
    ticket = email(
        "support@customtronics.com",
        "lee@example.com",
        "Ticket 4471 updated",
        address=None,
        unsubscribe=None,
        label=False,
    )
    assert ct.check("customtronics-service", ticket) == []


# -- 004 shop ---------------------------------------------------------------------------------------------

SHOP_ADDRESS = "P.O. Box 4410, Portland, OR 97208"


@pytest.fixture
def shop(tmp_path):
    return Company("004-shop.toml", tmp_path)


def test_004_unsubscribe_link_at_the_bottom_stops_non_transactional_mail(shop):
    without = email(
        "deals@shop.example", "max@example.com", "Weekend deals", address=SHOP_ADDRESS, unsubscribe=None
    )
    assert shop.check("shop", without) == ["CANSPAM_UNSUBSCRIBE"]
    with_link = email("deals@shop.example", "max@example.com", "Weekend deals", address=SHOP_ADDRESS)
    assert shop.check("shop", with_link) == []
    shop.ok("suppress", "add", "max@example.com", "--channel", "email", "--global", "--reason", "unsubscribe")
    assert shop.check("shop", with_link) == ["SUPPRESSED"]
    receipt = email(
        "receipts@shop.example",
        "max@example.com",
        "Receipt 5521",
        address=None,
        unsubscribe=None,
        label=False,
    )
    assert shop.check("shop-receipts", receipt) == []
