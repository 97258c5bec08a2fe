"""Replays the conversation recorded from a real Neutron 29 server against netqos.

The recording (data/neutron-conversation/neutron-golden-normalised.json) is the script:
every exchange holds who asked (an identity of the recording), the method, the path and
the body, with the ids Neutron created replaced by labels (`<policy:a1>`). The replay sends
each request with the labels resolved to the ids netqos created, normalises netqos's answer
the way the recording was normalised, and compares the two:

- status: the same HTTP status and, for errors, the same NeutronError.type;
- exact: the whole body the same too (error messages aside).

`BETTER` lists the few exchanges where Neutron's own answer is a defect and a better one
counts as a match.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx

GOLDEN = Path(__file__).parent / "data" / "neutron-conversation" / \
    "neutron-golden-normalised.json"
MISSING_ID = "9f1c2d3e-0000-4000-8000-000000000000"   # a well-formed id that never exists
ACCEPTED_SUFFIX = " (was accepted: delete it)"        # steps run only after a 2xx
_LABEL = re.compile(r"<([a-z0-9_-]+:[^<>]+|missing)>")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MASKED = {"created_at": "<ts>", "updated_at": "<ts>", "mac_address": "<mac>",
           "ip_address": "<ip>", "floating_ip_address": "<ip>", "fixed_ip_address": "<ip>"}

# step -> whether netqos's (status, body) is at least as good as Neutron's defective answer
BETTER = {
    13: lambda status, body: status == 404,   # Neutron: 500 for an unknown rule type
    63: lambda status, body: status == 404,   # Neutron: 200 for a bw rule under the dscp path
    75: lambda status, body: status in (201, 400),  # Neutron truncates max_kbps 1.5 to 1
    # Neutron refuses these filters; answering them harms no client.
    59: lambda status, body: status in (200, 400),   # rules by direction
    212: lambda status, body: status in (200, 400),  # ports by qos_policy_id
    213: lambda status, body: status in (200, 400),  # networks by qos_policy_id
    243: lambda status, body: status in (200, 400),  # floating IPs by qos_policy_id
}


def load_golden() -> dict:
    return json.loads(GOLDEN.read_text())


def error_type(body) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("NeutronError"), dict):
        return body["NeutronError"].get("type")
    return None


def without_message(body):
    return {"NeutronError": {"type": error_type(body)}} if error_type(body) else body


@dataclass
class Outcome:
    step: int
    name: str
    want_status: int
    got_status: int | None
    want: object
    got: object
    better: bool = False

    @property
    def status_match(self) -> bool:
        if self.better:
            return BETTER[self.step](self.got_status, self.got)
        return (self.want_status, error_type(self.want)) == (self.got_status,
                                                              error_type(self.got))

    @property
    def exact_match(self) -> bool:
        if self.better:
            return self.status_match
        return self.status_match and without_message(self.want) == without_message(self.got)

    def describe(self) -> str:
        if not self.status_match:
            return (f"step {self.step} {self.name}: want {self.want_status} "
                    f"{error_type(self.want)}, got {self.got_status} {error_type(self.got)}")
        return f"step {self.step} {self.name}: body differs: {body_diff(self.want, self.got)}"


def body_diff(want, got, path="") -> str:
    """The first few places where two normalised bodies differ, as path: want != got."""
    out: list[str] = []
    _diff(without_message(want), without_message(got), path, out)
    return "; ".join(out[:6]) + (f"; … {len(out) - 6} more" if len(out) > 6 else "")


def _diff(want, got, path, out) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(set(want) | set(got)):
            if key not in got:
                out.append(f"{path}.{key} missing")
            elif key not in want:
                out.append(f"{path}.{key} extra ({json.dumps(got[key])[:60]})")
            else:
                _diff(want[key], got[key], f"{path}.{key}", out)
    elif isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (w, g) in enumerate(zip(want, got)):
            _diff(w, g, f"{path}[{i}]", out)
    elif want != got:
        out.append(f"{path}: {json.dumps(want)[:80]} != {json.dumps(got)[:80]}")


@dataclass
class Replay:
    """Sends the recorded requests to `base_url`, keeping label <-> id maps."""

    client: httpx.Client
    identities: dict
    ids: dict[str, str] = field(default_factory=lambda: {"missing": MISSING_ID})
    labels: dict[str, str] = field(default_factory=lambda: {MISSING_ID: "missing"})
    base_url: str = ""

    def resolve(self, value):
        """Labels in a recorded path or body -> netqos's ids."""
        if isinstance(value, str):
            return _LABEL.sub(lambda m: self.ids.get(m.group(1), MISSING_ID), value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def send(self, exchange: dict) -> tuple[int, object]:
        headers = {"Accept": "application/json", **self.identities[exchange["as"]],
                   **exchange.get("request_headers", {})}
        body = exchange["request_body"]
        content = None
        if isinstance(body, str):   # a deliberately malformed body, sent as recorded
            content = body.encode()
        elif body is not None:
            content = json.dumps(self.resolve(body)).encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
        resp = self.client.request(exchange["method"], self.resolve(exchange["path"]),
                                   content=content, headers=headers)
        parsed = resp.json() if resp.content else None
        self.learn(exchange["response"], parsed, resp.status_code)
        return resp.status_code, parsed

    def learn(self, recorded, answered, status: int) -> None:
        """A created (or shown) object: its recorded label now names netqos's id."""
        if not (200 <= status < 300 and isinstance(recorded, dict)
                and isinstance(answered, dict) and len(recorded) == 1):
            return
        key = next(iter(recorded))
        want, got = recorded[key], answered.get(key)
        if isinstance(want, dict) and isinstance(got, dict) and "id" in got:
            m = _LABEL.fullmatch(str(want.get("id", "")))
            if m:
                self.ids[m.group(1)] = got["id"]
                self.labels[got["id"]] = m.group(1)

    def normalise(self, value, key=None):
        """netqos's answer in the recording's normal form."""
        if isinstance(value, dict):
            return {k: self.normalise(v, k) for k, v in sorted(value.items())}
        if isinstance(value, list):
            items = [self.normalise(v) for v in value]
            if key == "rule_types" or all(isinstance(i, dict) for i in items):
                items.sort(key=lambda i: json.dumps(i, sort_keys=True))
            return items
        if isinstance(value, str):
            if key in _MASKED:
                return _MASKED[key]
            value = value.replace(self.base_url, "<base>")
            value = _UUID.sub(lambda m: f"<{self.labels.get(m.group(0), 'uuid?')}>", value)
            return value.replace("req-<uuid?>", "<request-id>")
        if key == "provider:segmentation_id" and isinstance(value, int):
            return "<segid>"
        return value


def replay(base_url: str, golden: dict | None = None) -> list[Outcome]:
    """Every recorded exchange replayed against netqos, in order, with its outcome."""
    golden = golden or load_golden()
    outcomes: list[Outcome] = []
    accepted: dict[str, bool] = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        r = Replay(client, golden["identities"], base_url=base_url.rstrip("/"))
        for ex in golden["exchanges"]:
            name = ex["name"]
            if name.endswith(ACCEPTED_SUFFIX) and not accepted.get(name[:-len(ACCEPTED_SUFFIX)]):
                continue  # netqos refused what Neutron accepted: nothing to delete
            status, body = r.send(ex)
            accepted[name] = 200 <= status < 300
            outcomes.append(Outcome(ex["step"], name, ex["status"], status, ex["response"],
                                    r.normalise(body), better=ex["step"] in BETTER))
    return outcomes


def summary(outcomes: list[Outcome], total: int) -> str:
    """The skipped conditional steps count as matched: they exist only after a 2xx."""
    skipped = total - len(outcomes)
    status = sum(o.status_match for o in outcomes) + skipped
    exact = sum(o.exact_match for o in outcomes) + skipped
    return f"api-compat: {status}/{total} status, {exact}/{total} exact"


if __name__ == "__main__":  # a quick look at a running server: python -m tests.api.conversation URL
    import sys

    doc = load_golden()
    results = replay(sys.argv[1], doc)
    for o in results:
        if not o.exact_match:
            print(o.describe())
    print(summary(results, len(doc["exchanges"])))
