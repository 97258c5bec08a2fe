"""Keystone tokens at the door: valid, missing, invalid, expired, revoked, a service
token for an expired user token, and Keystone going away and coming back."""
from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.keystone
POLICIES = "/v2.0/qos/policies"


def get(server, token: str | None, **headers) -> httpx.Response:
    if token is not None:
        headers["X-Auth-Token"] = token
    return httpx.get(server.url + POLICIES, headers=headers, timeout=30)


def assert_401(resp: httpx.Response, keystone_cloud) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["www-authenticate"] == f'Keystone uri="{keystone_cloud.server.url}"'
    assert resp.json()["NeutronError"]["type"] == "NotAuthenticated"


def test_valid_token_gives_the_project_and_roles(keystone_cloud, keystone_netqos):
    token = keystone_cloud.token("alpha-manager")
    resp = httpx.post(keystone_netqos.url + POLICIES, json={"policy": {"name": "by-token"}},
                      headers={"X-Auth-Token": token}, timeout=30)
    assert resp.status_code == 201, resp.text
    policy = resp.json()["policy"]
    assert policy["project_id"] == keystone_cloud.project_ids["alpha"]
    assert httpx.delete(f"{keystone_netqos.url}{POLICIES}/{policy['id']}", timeout=30,
                        headers={"X-Auth-Token": token}).status_code == 204


def test_missing_and_invalid_tokens(keystone_cloud, keystone_netqos):
    assert_401(get(keystone_netqos, None), keystone_cloud)
    assert_401(get(keystone_netqos, "not-a-token"), keystone_cloud)
    forged = keystone_cloud.token("alpha-member")[:-4] + "AAAA"
    assert_401(get(keystone_netqos, forged), keystone_cloud)


def test_identity_headers_are_not_trusted(keystone_cloud, keystone_netqos):
    """noauth's headers mean nothing here: without a token 401, with a member's token the
    claimed admin role and project are ignored."""
    claims = {"X-Project-Id": keystone_cloud.project_ids["beta"], "X-Roles": "admin",
              "X-User-Id": "admin"}
    assert_401(get(keystone_netqos, None, **claims), keystone_cloud)
    token = keystone_cloud.token("alpha-member")
    resp = httpx.post(keystone_netqos.url + POLICIES, json={"policy": {"name": "x"}},
                      headers={"X-Auth-Token": token, **claims}, timeout=30)
    assert resp.status_code == 403, resp.text
    resp = httpx.get(keystone_netqos.url + "/v2.0/qos/rule-types/bandwidth_limit",
                     headers={"X-Auth-Token": token, **claims}, timeout=30)
    assert resp.status_code == 403, resp.text


def test_expired_token(keystone_cloud, keystone_netqos):
    token = keystone_cloud.short_lived_token("alpha-reader", seconds=8)
    assert get(keystone_netqos, token).status_code == 200
    time.sleep(9)
    assert_401(get(keystone_netqos, token), keystone_cloud)


def test_service_token_carries_a_recently_expired_user_token(keystone_cloud, keystone_netqos):
    token = keystone_cloud.short_lived_token("alpha-reader", seconds=4)
    time.sleep(5)
    assert_401(get(keystone_netqos, token), keystone_cloud)
    service = keystone_cloud.token("netqos")      # holds the `service` role
    resp = get(keystone_netqos, token, **{"X-Service-Token": service})
    assert resp.status_code == 200, resp.text
    # A service token without the service role is refused.
    not_service = keystone_cloud.token("alpha-admin")
    assert_401(get(keystone_netqos, token, **{"X-Service-Token": not_service}),
               keystone_cloud)


def test_revoked_token_stops_working(keystone_cloud, keystone_netqos):
    token = keystone_cloud.token("beta-member")
    assert get(keystone_netqos, token).status_code == 200
    keystone_cloud.revoke(token)
    # Cached tokens are re-checked after token_cache_time (3 s in this server).
    time.sleep(3.5)
    assert_401(get(keystone_netqos, token), keystone_cloud)


def test_keystone_outage(keystone_cloud, keystone_netqos):
    seen = keystone_cloud.token("alpha-member")
    unseen = keystone_cloud.token("beta-member")
    assert get(keystone_netqos, seen).status_code == 200
    keystone_cloud.server.stop()
    try:
        time.sleep(3.5)   # past the re-check time: the cached token is still served
        assert get(keystone_netqos, seen).status_code == 200
        resp = get(keystone_netqos, unseen)
        assert resp.status_code == 503, resp.text
        assert resp.json()["NeutronError"]["type"] == "ServiceUnavailable"
    finally:
        keystone_cloud.server.start()
    assert get(keystone_netqos, unseen).status_code == 200
    assert get(keystone_netqos, seen).status_code == 200


def test_console_password_sign_in(keystone_cloud, keystone_netqos):
    """/ui/config.json offers the password form; its route trades a Keystone password for a
    token the API then accepts."""
    config = httpx.get(keystone_netqos.url + "/ui/config.json", timeout=30).json()
    assert config["sign_in"] == "password" and config["password_url"]
    url = keystone_netqos.url + config["password_url"]
    auth = keystone_cloud.auth("alpha-reader")
    resp = httpx.post(url, timeout=30, json={"user": "alpha-reader", "password": auth["password"],
                                             "project": "alpha"})
    assert resp.status_code == 200, resp.text
    assert get(keystone_netqos, resp.json()["token"]).status_code == 200
    wrong = httpx.post(url, timeout=30, json={"user": "alpha-reader", "password": "nope",
                                              "project": "alpha"})
    assert wrong.status_code == 401
    assert httpx.post(url, timeout=30, json={"user": "x"}).status_code == 400
