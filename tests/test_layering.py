"""The architecture a reader can check: the doors translate, the engines decide, the rules are pure.

- the SMTP door (gateway/smtp/) imports the email engine and its protocol libraries, never the rules
  (gateway/policy/) nor the configuration's monitor mode;
- the rules import nothing that does I/O;
- modules import one another without cycles;
- the private parts of aiosmtpd and aiosmtplib the door relies on are all still there.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

from gateway.smtp import private

PACKAGE = REPO / "gateway"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """What a module imports, relative imports resolved: `from a import b` gives `a.b` where that is a
    gateway module, else `a`."""
    tree = ast.parse(path.read_text())
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    known = _modules()
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module)
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_the_smtp_door_imports_the_engine_not_the_rules():
    door = sorted((PACKAGE / "smtp").glob("*.py"))
    assert door
    for path in door:
        imported = _imports(path)
        assert not {m for m in imported if m.startswith("gateway.policy")}, f"{path.name} imports the rules"
        assert "gateway.pipeline" not in imported, f"{path.name} runs the pipeline itself"
        text = path.read_text()
        for decision in ("mode_for", "disposition", "Fate", "Mode.", "monitor"):
            assert decision not in text, f"{path.name} decides monitor mode ({decision})"
    assert "gateway.mail.engine" in _imports(PACKAGE / "smtp" / "handler.py")


def test_the_rules_do_no_io():
    allowed_roots = {
        "re",
        "dataclasses",
        "datetime",
        "functools",
        "zoneinfo",
        "enum",
        "collections",
        "typing",
        "inspect",
        "__future__",
        "gateway",
        "phonenumbers",
        "ipaddress",
        "unicodedata",
    }
    allowed_modules = {"urllib.parse", "email.utils"}  # (urllib.request would do I/O; email.utils parses)
    for path in (PACKAGE / "policy").glob("*.py"):
        for module in _imports(path):
            root = module.split(".")[0]
            assert root in allowed_roots or module in allowed_modules, f"{path.name} imports {module}"
            if root == "gateway":
                assert module.startswith(("gateway.policy", "gateway.model", "gateway.addresses")), (
                    f"{path.name} imports {module}"
                )


def test_modules_import_one_another_without_cycles():
    modules = _modules()
    graph = {
        name: {m for m in _imports(path, top_level_only=True) if m in modules and m != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt) :] + [nxt] if nxt in trail else [name, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_private_parts_of_aiosmtpd_and_aiosmtplib_the_gateway_uses_are_there():
    assert private.missing() == [], "a new aiosmtpd or aiosmtplib moved them: see gateway/smtp/private.py"
