"""Both store engines for the parametrized store and pipeline tests. PostgreSQL is the server scripts/test
starts (GATEWAY_TEST_POSTGRES, e.g. postgresql://gateway@127.0.0.1:55432/postgres); each test gets a
database of its own, dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.store import Store, open_store

ENGINES = ["sqlite", "postgresql"]
SERVER = os.environ.get("GATEWAY_TEST_POSTGRES", "")


def server_url() -> str:
    if not SERVER:
        pytest.fail(
            "GATEWAY_TEST_POSTGRES is not set: run the tests with scripts/test, which starts PostgreSQL "
            "on loopback (or point it at a server where you may create databases)"
        )
    return SERVER


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(server_url(), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Engine:
    """A fresh, empty database of one engine: `url` for configs, `open()` for a store on it."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp / 'gateway.db'}"
            self.name = None
        else:
            self.name = f"gw_test_{secrets.token_hex(6)}"
            asyncio.run(_admin(f"CREATE DATABASE {self.name}"))
            self.url = _with_database(server_url(), self.name)

    def open(self) -> Store:
        return open_store(self.url)

    def drop(self) -> None:
        if self.name is not None:
            asyncio.run(_admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    created = Engine(request.param, tmp_path)
    yield created
    created.drop()


@pytest.fixture
def pg_engine(tmp_path):
    """For what only the PostgreSQL engine has (or does differently)."""
    created = Engine("postgresql", tmp_path)
    yield created
    created.drop()
