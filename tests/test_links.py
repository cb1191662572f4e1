"""Whether a link's host can work for a reader (gateway/policy/links.py), judged without the network."""

from __future__ import annotations

import pytest

from gateway.policy.links import host_problem, url_problem

DEAD = [
    "http://localhost/u",
    "http://unsubscribe.localhost/u",
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.64.1.1/",  # shared address space (CGNAT)
    "http://169.254.169.254/latest",
    "https://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::]/",
    "http://unsubscribe.invalid/",
    "http://printer.local/x",
    "http://router.home.arpa/",
    "http://abc.onion/",
    "http://corp.internal/",
    "http://x.alt/",
    "http://intranet/u",
    "http://exa_mple.com/",
    "http://-bad.com/",
    "http://bad-.com/",
    "http://" + "a" * 64 + ".com/",
    "http://999.1.1.1/",
    "http://1.2.3.4.5/",
    "https:///unsub",
    "https://acme.com:0/u",
    "https://acme.com:99999/u",
    "ftp://acme.com/u",
    "javascript:alert(1)",
]
WORKING = [
    "https://acme.com/unsubscribe?u=1",
    "https://acme.com./u",
    "https://ACME.COM/u",
    "https://acme.com:8443/u",
    "http://8.8.8.8/u",
    "http://[2001:4860:4860::8888]/u",
    "https://münchen.de/abmelden",
    "https://xn--mnchen-3ya.de/abmelden",
    "https://user@acme.com/u",
    "https://news.acme.example/u",  # documentation names: allowed by default
    "https://foo.test/u",
    "https://example.com/u",
]


@pytest.mark.parametrize("url", DEAD)
def test_links_no_reader_can_reach_do_not_work(url):
    assert url_problem(url) is not None


@pytest.mark.parametrize("url", WORKING)
def test_links_on_the_public_internet_work(url):
    assert url_problem(url) is None


@pytest.mark.parametrize("host", ["news.acme.example", "foo.test", "example.com", "www.example.org"])
def test_documentation_names_are_a_choice(host):
    assert host_problem(host) is None
    problem = host_problem(host, allow_examples=False)
    assert problem is not None and "documentation" in problem


def test_the_reason_names_what_is_wrong():
    assert "loopback" in (url_problem("http://2130706433/") or "")
    assert "link-local" in (url_problem("http://169.254.169.254/") or "")
    assert "'invalid'" in (url_problem("http://a.invalid/") or "")
    assert "single-label" in (url_problem("http://intranet/") or "")


def test_with_example_domains_refused_a_placeholder_unsubscribe_link_is_caught(tmp_path):
    import asyncio
    from datetime import datetime

    from helpers import CHECK_TIME, CORPUS, config_copy

    from gateway import config as config_module
    from gateway.pipeline import Pipeline
    from gateway.store import open_store

    raw = (CORPUS / "email" / "table_newsletter.eml").read_bytes()  # links to acme.example

    def codes(allow: bool) -> list[str]:
        path = config_copy(CORPUS / "gateway.toml", tmp_path, f"{allow}.toml")
        path.write_text(
            path.read_text().replace("[policy]", f"[policy]\nallow_example_domains = {str(allow).lower()}", 1)
        )
        config = config_module.load(path)

        async def go() -> list[str]:
            store = open_store(config.database)
            try:
                result = await Pipeline(config, store).check_email(
                    "acme", raw, datetime.fromisoformat(CHECK_TIME)
                )
            finally:
                await store.close()
            return [v.code for v in result.evaluation.violations]

        return asyncio.run(go())

    assert codes(True) == []
    assert codes(False) == ["CANSPAM_UNSUBSCRIBE"]
