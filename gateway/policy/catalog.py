"""The rules catalogue, docs/rules.md, made from the registry (codes.py) and the rules' own docstrings:

    python -m gateway.policy.catalog > docs/rules.md

tests/test_registry.py fails when the file is not what this prints, so the page cannot drift from the code.
"""

from __future__ import annotations

import inspect

from . import email, recipients, sms
from .codes import REGISTRY, Code, Rule
from .disposition import ALWAYS_REFUSED

RULES: tuple[Rule, ...] = (
    recipients.invalid_recipient,
    *recipients.RECIPIENT_RULES,
    *email.CONTENT_RULES,
    *sms.SMS_RULES,
)


def rules_for(code: Code) -> list[Rule]:
    return [rule for rule in RULES if rule.code is code]


def _where(rule: Rule) -> str:
    module = inspect.getmodule(rule.check)
    name = module.__name__.replace(".", "/") if module else "gateway/policy"
    return f"`{name}.py` `{rule.__name__}`"


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def markdown() -> str:
    lines = [
        "# Violation codes",
        "",
        "[← README](../README.md) · generated from `gateway/policy/codes.py` and the rules' docstrings by "
        "`python -m gateway.policy.catalog > docs/rules.md` (a test fails when this page is out of date).",
        "",
        "Every refusal names one or more of these codes: in the SMTP reply, the HTTP answer, the decision log "
        "and the console. Violations are listed recipient by recipient, in the order the recipients were "
        "given, then those about the message itself; within each group in the order of this table.",
        "",
        "| code | channel | what it means | law or guideline | Twilio error |",
        "|---|---|---|---|---|",
    ]
    for code in REGISTRY.values():
        channels = "both" if len(code.channels) > 1 else code.channels[0].value
        twilio = str(code.twilio) if code.twilio else "—"
        lines.append(f"| `{code.name}` | {channels} | {code.meaning} | {code.law} | {twilio} |")
    refused = ", ".join(f"`{name}`" for name in sorted(ALWAYS_REFUSED))
    lines += [
        "",
        f"In monitor mode a message that breaks a rule is relayed and its violations recorded, except for "
        f"{refused} (nothing can be delivered to it) and the codes listed in `gateway.monitor_refuses`; the "
        "same holds for mail and texts.",
        "",
        "## What each rule checks, and how to fix a refusal",
        "",
    ]
    for code in REGISTRY.values():
        lines += [f"### `{code.name}`", "", f"How to fix: {code.fix}", ""]
        for rule in rules_for(code):
            lines.append(f"- {_where(rule)}: {_one_line(rule.__doc__)}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
