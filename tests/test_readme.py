"""README.md cannot drift from the program: its two set-up commands are the ones CI runs, and its tour is run
top to bottom, every command of it, against a gateway started the way the README starts it.

scripts/test runs README's install command (`python3 -m venv .venv && .venv/bin/pip install -q -e .`) in a
fresh copy of the repository and names it in GATEWAY_README_CLONE; this test starts `.venv/bin/gateway
serve` there. Run on its own, it makes a copy that uses this checkout's virtualenv instead. The tour's fixed
ports (2525, 8025) are replaced by free ones, in the copy's config and in the commands alike.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from helpers import REPO
from servers import free_port, wait_for_port

README = (REPO / "README.md").read_text()
SERVE = "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/gateway serve"


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(section heading, language, body) of every fenced block, in order."""
    found, section, lang, body = [], "", None, []
    for line in text.splitlines():
        if lang is None and line.startswith("## "):
            section = line[3:].strip()
        elif lang is None and line.startswith("```"):
            lang, body = line[3:].strip(), []
        elif lang is not None and line.startswith("```"):
            found.append((section, lang, "\n".join(body)))
            lang = None
        elif lang is not None:
            body.append(line)
    return found


def console_steps(body: str) -> list[tuple[str, str]]:
    """(command, expected output) of a console block: `$ ` lines (with `\\` continuations) and what follows."""
    steps: list[tuple[str, list[str]]] = []
    pending = ""
    for line in body.splitlines():
        if pending or line.startswith("$ "):
            text = line[2:] if line.startswith("$ ") and not pending else line
            pending += text.rstrip("\\").rstrip() + " " if line.endswith("\\") else text
            if not line.endswith("\\"):
                steps.append((pending.strip(), []))
                pending = ""
        else:
            steps[-1][1].append(line)
    return [(command, "\n".join(out)) for command, out in steps]


def test_readme_is_short_and_its_links_lead_somewhere():
    assert len(README.encode()) < 15 * 1024
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (REPO / target).exists(), target


def test_the_two_set_up_commands_are_the_ones_ci_runs():
    setup = [body for section, lang, body in blocks(README) if section == "Set-up"]
    assert setup == [SERVE, "bash scripts/test"]
    assert "exec bash scripts/test" in (REPO / ".ci" / "run").read_text()
    clone = os.environ.get("GATEWAY_README_CLONE")
    if clone:  # scripts/test ran the install part there: the gateway that copy serves is the copy's own
        done = subprocess.run(
            [f"{clone}/.venv/bin/python", "-c", "import gateway; print(gateway.__file__)"],
            capture_output=True, text=True, cwd="/",
        )  # fmt: skip
        assert done.stdout.strip() == f"{clone}/gateway/__init__.py", done.stdout + done.stderr


def _clone(tmp: Path) -> Path:
    given = os.environ.get("GATEWAY_README_CLONE")
    if given:
        clone = Path(given)
        assert (clone / ".venv" / "bin" / "gateway").exists(), "scripts/test did not install the clone"
    else:  # run alone: a copy of the checkout, on this checkout's virtualenv
        clone = tmp / "clone"
        shutil.copytree(REPO, clone, ignore=shutil.ignore_patterns(".venv", "var", "test-output", ".git"))
        (clone / ".venv").symlink_to(REPO / ".venv")
    shutil.rmtree(clone / "var", ignore_errors=True)
    return clone


def _ports(text: str, smtp: int, http: int) -> str:
    return text.replace("2525", str(smtp)).replace("8025", str(http))


def test_the_tour_runs_top_to_bottom(tmp_path):
    clone = _clone(tmp_path)
    smtp, http = free_port(), free_port()
    for name in ("config/gateway.toml", "scripts/send-mail.py"):
        path = clone / name
        path.write_text(_ports(path.read_text(), smtp, http))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k != "VIRTUAL_ENV"}
    serve = SERVE.rpartition(" && ")[2]
    gateway = subprocess.Popen(
        serve.split(), cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for_port(http, gateway, timeout=60)
        wait_for_port(smtp, gateway, timeout=60)
        script, expected = ["set -e"], []
        for section, lang, body in blocks(README):
            if section != "A five-minute tour":
                continue
            if lang == "sh":
                script.append(_ports(body, smtp, http))
            elif lang == "console":
                for command, output in console_steps(body):
                    n = len(expected)
                    script.append(
                        f"set +e; {_ports(command, smtp, http)} > .readme-{n}.out 2>&1; echo $? > .readme-{n}.rc; set -e"
                    )
                    expected.append(output)
            else:
                pytest.fail(f"a {lang!r} block in the tour: give it sh or console, so that it is run")
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)], cwd=clone, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for n, output in enumerate(expected):
            assert (clone / f".readme-{n}.out").read_text().rstrip("\n") == output
            # the exit codes README states: 0 for a pass, 1 for a reject
            verdict = re.search(r'"verdict": "(\w+)"', output)
            wanted = {"pass": "0", "reject": "1"}[verdict.group(1)] if verdict else "0"
            assert (clone / f".readme-{n}.rc").read_text().strip() == wanted, output[:80]
        out = done.stdout
        # what the tour says happens
        assert "relayed to reader@example.com" in out
        assert "refused: 550 5.7.1 <reader@example.com> rejected: SUPPRESSED (opted out" in out
        assert out.index('"status": "rejected"') < out.index('"status": "relayed"')  # consent, then 201
        assert "CONSENT_MISSING" in out and "suppressed: reader@example.com" in out
        assert len(list((clone / "var" / "outbox" / "new").iterdir())) == 1
        assert '"decisions"' in out and "id,at,channel" in out  # the API and the CSV report
        # the console signs in with the demo ops key the tour names
        form = urllib.parse.urlencode({"key": "demo-ops-key-0123456789"}).encode()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(f"http://127.0.0.1:{http}/ops/login", data=form, timeout=30)
            raise AssertionError("no redirect after sign-in")
        except urllib.error.HTTPError as answer:
            assert answer.code == 302 and "gw_ops=" in answer.headers["Set-Cookie"]
    finally:
        gateway.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = gateway.wait(60)
        except subprocess.TimeoutExpired:
            gateway.kill()
            code = gateway.wait()
    assert code == 0, gateway.stdout.read() if gateway.stdout else ""
