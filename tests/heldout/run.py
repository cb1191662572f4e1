#!/usr/bin/env python3
"""Run the held-out corpus through the real `gateway check` CLI and compare with the labels.

    .venv/bin/python tests/heldout/run.py [-v] [--only SUBSTRING] [--keep]

Needs the project's virtualenv (`bash scripts/test` makes it). Every case runs in a fresh temporary directory
(the config's SQLite database and state_dir are relative paths), after the consents the SMS cases need are
recorded with `gateway consent add`. Prints one row per case and totals per group; exits 1 if any case fails.

A case passes when
  - expected == []: the verdict is "pass" (exit 0) and no violation is reported;
  - otherwise: the verdict is "reject" (exit 1), every expected code is reported, and every reported code is
    expected or listed in the case's `allow`.
A failing case is a FALSE PASS when an expected code is missing (the law's requirement was let through) and a
FALSE REFUSAL when a code outside expected+allow is reported (a lawful message, or lawful part of one, was
refused); a case can be both. ERROR: exit 2, a traceback, or output that is not the JSON the SPEC promises.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
GATEWAY = ROOT / ".venv" / "bin" / "gateway"
CONFIG = HERE / "gateway.toml"
CONSENT_OBTAINED = "2025-06-01T12:00:00Z"  # before every case's `at`


@dataclass
class Case:
    id: str
    group: str
    kind: str  # "email" | "sms"
    sender: str
    expected: list[str]
    allow: list[str]
    cite: str
    argv: list[str]
    consent: tuple[str, str, str] | None = None  # (number, sender, level)


@dataclass
class Result:
    case: Case
    got: list[str] = field(default_factory=list)
    verdict: str = ""
    rc: int | None = None
    ok: bool = False
    false_pass: bool = False
    false_refusal: bool = False
    error: str = ""
    note: str = ""
    messages: list[str] = field(default_factory=list)


def load_cases() -> list[Case]:
    cases: list[Case] = []
    emails = tomllib.loads((HERE / "email" / "expected.toml").read_text(encoding="utf-8"))
    for c in emails["case"]:
        path = HERE / "email" / c["file"]
        cases.append(
            Case(
                id=c["file"].removesuffix(".eml"),
                group=c["group"],
                kind="email",
                sender=c["sender"],
                expected=list(c["expected"]),
                allow=list(c.get("allow", [])),
                cite=c["cite"],
                argv=["check", "--config", str(CONFIG), "--sender", c["sender"], str(path)],
            )
        )
    sms = tomllib.loads((HERE / "sms.toml").read_text(encoding="utf-8"))
    d = sms.get("defaults", {})
    for c in sms["case"]:
        g = {**d, **c}
        argv = [
            "check",
            "--config",
            str(CONFIG),
            "--sms",
            "--sender",
            g["sender"],
            "--to",
            g["to"],
            "--body",
            g["body"],
            "--category",
            g["category"],
            "--at",
            g["at"],
        ]
        level = g.get("consent", "none")
        cases.append(
            Case(
                id=g["id"],
                group=g["group"],
                kind="sms",
                sender=g["sender"],
                expected=list(g["expected"]),
                allow=list(g.get("allow", [])),
                cite=g["cite"],
                argv=argv,
                consent=None if level == "none" else (g["to"], g["sender"], level),
            )
        )
    return cases


def run_gateway(argv: list[str], cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [str(GATEWAY), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def setup_facts(cases: list[Case], cwd: pathlib.Path) -> None:
    for c in cases:
        if not c.consent:
            continue
        number, sender, level = c.consent
        p = run_gateway(
            [
                "consent",
                "add",
                number,
                "--channel",
                "sms",
                "--sender",
                sender,
                "--level",
                level,
                "--source",
                "web signup form",
                "--evidence",
                f"held-out corpus: checkbox 'I agree to receive marketing texts from Northwind Outfitters' ({c.id})",
                "--obtained-at",
                CONSENT_OBTAINED,
                "--config",
                str(CONFIG),
            ],
            cwd,
        )
        if p.returncode != 0:
            sys.exit(f"run.py: could not record consent for {c.id}: rc={p.returncode}\n{p.stdout}{p.stderr}")


def judge(c: Case, p: subprocess.CompletedProcess[str]) -> Result:
    r = Result(case=c, rc=p.returncode)
    if "Traceback (most recent call last)" in p.stderr:
        r.error = "traceback: " + p.stderr.strip().splitlines()[-1][:160]
    elif p.stderr.strip():
        r.note = "stderr: " + " | ".join(p.stderr.strip().splitlines())[:200]
    try:
        out = json.loads(p.stdout)
        r.verdict = out["verdict"]
        r.got = sorted({v["code"] for v in out.get("violations", [])})
        r.messages = [f"{v['code']}: {v.get('message', '')}" for v in out.get("violations", [])]
    except (ValueError, KeyError, TypeError):
        if not r.error:
            first = (p.stderr.strip() or p.stdout.strip() or "no output").splitlines()[0]
            r.error = f"rc={p.returncode}: {first[:160]}"
        return r
    if p.returncode not in (0, 1) or (p.returncode == 0) != (r.verdict == "pass"):
        r.error = r.error or f"exit code {p.returncode} with verdict {r.verdict!r}"
    expected, allowed, got = set(c.expected), set(c.expected) | set(c.allow), set(r.got)
    if not expected:
        r.false_pass = False
        r.false_refusal = r.verdict != "pass" or bool(got - set(c.allow))
        # a "pass" verdict that still lists allowed codes cannot happen in enforce mode; treat it as pass
    else:
        r.false_pass = r.verdict != "reject" or bool(expected - got)
        r.false_refusal = bool(got - allowed)
    r.ok = not (r.false_pass or r.false_refusal or r.error)
    return r


def fmt(codes: list[str]) -> str:
    return ",".join(codes) if codes else "pass"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="show the gateway's messages for failing cases"
    )
    ap.add_argument("--only", metavar="SUBSTRING", help="run the cases whose id or group contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if not GATEWAY.exists():
        print(
            f"run.py: {GATEWAY} not found: run `bash scripts/test` first to make the virtualenv",
            file=sys.stderr,
        )
        return 2
    cases = load_cases()
    if args.only:
        cases = [c for c in cases if args.only in c.id or args.only in c.group]
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="heldout-"))
    try:
        setup_facts(cases, tmp)
        # the checks only read the store: one process per core at a time (the consents above write, in turn)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            results = list(pool.map(lambda c: judge(c, run_gateway(c.argv, tmp)), cases))
    finally:
        if args.keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    w = max(len(c.id) for c in cases)
    print(f"{'case':<{w}}  {'group':<18} {'expected':<44} {'got':<44} result")
    for r in results:
        c = r.case
        exp = fmt(c.expected) + (f" (+{','.join(c.allow)})" if c.allow else "")
        got = "ERROR" if r.error and not r.verdict else fmt(r.got)
        if r.ok:
            res = "PASS"
        else:
            kinds = [
                k
                for k, on in (
                    ("false pass", r.false_pass),
                    ("false refusal", r.false_refusal),
                    ("error", bool(r.error)),
                )
                if on
            ]
            res = "FAIL (" + ", ".join(kinds) + ")"
        print(f"{c.id:<{w}}  {c.group:<18} {exp[:44]:<44} {got[:44]:<44} {res}")
        if r.error:
            print(f"{'':<{w}}    ! {r.error}")
        if r.note:
            print(f"{'':<{w}}    note: {r.note}")
        if args.verbose and not r.ok:
            for m in r.messages:
                print(f"{'':<{w}}    - {m[:150]}")
            print(f"{'':<{w}}    law: {c.cite}")

    print()
    print(
        f"{'group':<20} {'cases':>5} {'pass':>5} {'fail':>5} {'false pass':>11} {'false refusal':>14} {'error':>6}"
    )
    groups = sorted({r.case.group for r in results})
    for g in groups + ["TOTAL"]:
        rs = results if g == "TOTAL" else [r for r in results if r.case.group == g]
        row = [
            len(rs),
            sum(r.ok for r in rs),
            sum(not r.ok for r in rs),
            sum(r.false_pass for r in rs),
            sum(r.false_refusal for r in rs),
            sum(bool(r.error) for r in rs),
        ]
        print(f"{g:<20} {row[0]:>5} {row[1]:>5} {row[2]:>5} {row[3]:>11} {row[4]:>14} {row[5]:>6}")
    return 1 if any(not r.ok for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
