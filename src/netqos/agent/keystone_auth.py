"""An agent in a Keystone cloud: it logs in as its service user (password from the
standard OS_* environment, never a flag) and sends a token that keystoneauth1 renews
before it expires. The server maps that user onto this host (keystone_agent_users), so
the agent can read and report for its own host only."""
from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:   # keystoneauth1 is imported only in a Keystone cloud
    from keystoneauth1.session import Session


def from_environment(env: Mapping[str, str] | None = None) -> "KeystoneToken | None":
    """A token source if OS_AUTH_URL and OS_USERNAME are set, else None."""
    env = os.environ if env is None else env
    if not (env.get("OS_AUTH_URL") and env.get("OS_USERNAME")):
        return None
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    plugin = v3.Password(auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"],
                         password=env.get("OS_PASSWORD", ""),
                         project_name=env.get("OS_PROJECT_NAME", "service"),
                         user_domain_name=env.get("OS_USER_DOMAIN_NAME", "Default"),
                         project_domain_name=env.get("OS_PROJECT_DOMAIN_NAME", "Default"))
    return KeystoneToken(session.Session(auth=plugin, timeout=10),
                         env.get("OS_REGION_NAME"), env.get("OS_INTERFACE", "internal"))


class KeystoneToken(httpx.Auth):
    """httpx auth: every request carries a current Keystone token."""

    def __init__(self, ks_session: Session, region: str | None, interface: str):
        self.session, self.region, self.interface = ks_session, region, interface

    def auth_flow(self, request: httpx.Request
                  ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token()
        response = yield request
        if response.status_code == 401:   # revoked early: log in again, once
            self.session.invalidate()
            request.headers["X-Auth-Token"] = self._token()
            yield request

    def _token(self) -> str:
        token = self.session.get_token()
        if token is None:   # the password plugin raises rather than return none
            raise RuntimeError("Keystone returned no token")
        return token

    def network_endpoint(self) -> str:
        """netqos's URL from the service catalog (service type `network`)."""
        url = self.session.get_endpoint(service_type="network", interface=self.interface,
                                        region_name=self.region)
        if url is None:
            raise LookupError(f"no {self.interface} `network` endpoint in the Keystone "
                              f"catalog (region {self.region or 'any'})")
        return url
