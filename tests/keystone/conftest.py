"""Helpers for the tests against the real Keystone: clients that log in with a password."""
from __future__ import annotations

import httpx
import pytest


class TokenClient:
    """httpx against netqos as one Keystone user, with a token from password auth."""

    def __init__(self, cloud, server, user: str):
        self.user = user
        self.token = cloud.token(user)
        self.http = httpx.Client(base_url=server.url, timeout=30,
                                 headers={"X-Auth-Token": self.token})

    def __getattr__(self, name):
        return getattr(self.http, name)


@pytest.fixture(scope="module")
def as_user(keystone_cloud, keystone_netqos):
    """as_user("alpha-manager") -> a TokenClient (one token per user per module)."""
    clients: dict[str, TokenClient] = {}

    def get(user: str) -> TokenClient:
        if user not in clients:
            clients[user] = TokenClient(keystone_cloud, keystone_netqos, user)
        return clients[user]

    yield get
    for c in clients.values():
        c.http.close()
