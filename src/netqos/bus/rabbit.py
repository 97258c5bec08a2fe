"""The notification bus on RabbitMQ (cluster mode), with kombu.

    transport_url = rabbit://user:pass@host:5672/      (the OpenStack convention)

Topology (both exchanges non-durable: events are hints, the database is the truth):

  netqos.fanout   fanout exchange. Events that name many hosts or none (a policy or rule
                  changed, a network's policy changed) go here; every agent has its own
                  auto-delete queue bound to it.
  netqos.hosts    direct exchange, routing key = host. Events that name exactly one host
                  (a port bound, unbound, or given another policy) go to that host's queue
                  `netqos.agent.<host>.<tag>` only (one per agent process, auto-delete).

Messages are small JSON documents (Event.to_wire: resource, id, revision, hosts, ports).

Server side (RabbitPublisher): `publish` only puts the event on an in-memory queue and
returns at once; a background thread sends it with publisher confirms, reconnecting with
back-off while the broker is away. An API request therefore never waits for, nor fails
because of, the broker. Events that pile up during an outage are sent after it (bounded:
the oldest are dropped past MAX_BACKLOG), and agents heal anyway: each resyncs its whole
host when its own connection comes back.

Agent side (RabbitSubscriber): a thread consumes the host's queue and the fanout queue
and hands each event to a handler; after every (re)connection — once its queues exist, so
that nothing committed afterwards can be missed — it calls `on_connect`, on which the
agent pulls its whole host.
"""
from __future__ import annotations

import collections
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from kombu import Connection, Consumer, Exchange, Producer, Queue

from netqos.bus.base import Bus, Handler
from netqos.wire import Event

LOG = logging.getLogger(__name__)

FANOUT = Exchange("netqos.fanout", type="fanout", durable=False, auto_delete=False)
HOSTS = Exchange("netqos.hosts", type="direct", durable=False, auto_delete=False)
MAX_BACKLOG = 10000
HEARTBEAT = 10          # AMQP heartbeat, seconds: a silent broker is noticed within ~2x
BACKOFF = (0.2, 0.5, 1.0, 2.0)   # reconnect delays; the last repeats


def amqp_url(transport_url: str) -> str:
    """rabbit://… (oslo.messaging style) -> amqp://… for kombu; several hosts separated by
    commas are kept as kombu's failover list."""
    parts = urlsplit(transport_url.strip())
    if parts.scheme not in ("rabbit", "amqp", "pyamqp", "amqps"):
        raise ValueError(f"unsupported transport_url scheme {parts.scheme!r}: "
                         "expected rabbit://user:pass@host:5672/")
    scheme = "amqps" if parts.scheme == "amqps" else "amqp"
    if "," in parts.netloc:   # rabbit://u:p@h1:5672,u:p@h2:5672/vhost
        path = parts.path or "/"
        return ";".join(f"{scheme}://{loc}{path}" for loc in parts.netloc.split(","))
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))


def redact(transport_url: str) -> str:
    parts = urlsplit(transport_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def route(event: Event) -> tuple[Exchange, str]:
    """(exchange, routing key): one host -> that host's queue; many or none -> everyone."""
    if len(event.hosts) == 1:
        return HOSTS, event.hosts[0]
    return FANOUT, ""


def host_queue(host: str, tag: str) -> Queue:
    # Named per agent process: an agent restarting while the old process's connection
    # lingers must not share (round-robin) one queue with it.
    return Queue(f"netqos.agent.{host}.{tag}", exchange=HOSTS, routing_key=host,
                 durable=False, auto_delete=True, exclusive=True)


def fanout_queue(host: str, tag: str) -> Queue:
    # One per agent process: a fanout copy for each subscriber, gone with its connection.
    return Queue(f"netqos.fanout.{host}.{tag}", exchange=FANOUT,
                 durable=False, auto_delete=True, exclusive=True)


def _connection(url: str) -> Connection:
    return Connection(amqp_url(url), heartbeat=HEARTBEAT, connect_timeout=5,
                      transport_options={"confirm_publish": True})


def stay_connected(url: str, stop: threading.Event, connected: threading.Event, what: str,
                   session: Callable[[Connection, Callable[[], None]], None]) -> None:
    """Run `session(conn, up)` on a connection to `url` until `stop` is set, reconnecting
    with BACKOFF whenever the broker goes away. The session calls up() once it is
    subscribed: that sets `connected` and resets the backoff; a loss clears `connected`
    and is logged once per outage (`what` names the user in the log)."""
    failures = 0

    def up() -> None:
        nonlocal failures
        failures = 0
        connected.set()

    while not stop.is_set():
        try:
            with _connection(url) as conn:
                conn.ensure_connection(max_retries=1)
                session(conn, up)
        except Exception as exc:
            connected.clear()
            failures += 1
            if failures == 1:
                LOG.warning("%s: lost %s (%s); reconnecting", what, redact(url), exc)
            stop.wait(BACKOFF[min(failures, len(BACKOFF)) - 1])
    connected.clear()


class RabbitPublisher:
    """Publishes events from a background thread; `publish` never blocks or raises."""

    def __init__(self, transport_url: str):
        self.url = transport_url
        self._backlog: collections.deque[Event] = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.sent = 0
        self.dropped = 0

    def publish(self, event: Event) -> None:
        with self._cond:
            if len(self._backlog) >= MAX_BACKLOG:
                self._backlog.popleft()
                self.dropped += 1
            self._backlog.append(event)
            # Started lazily, in the process that publishes (uvicorn workers are spawned).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="netqos-bus-publish",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the backlog is sent (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._backlog and time.monotonic() < deadline:
                self._cond.wait(0.05)
            return not self._backlog

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (up to `timeout`: a server shutting down must not lose the
        events of the writes it just committed), then stop."""
        if self._thread is not None and self._thread.is_alive():
            if not self.flush(timeout):
                LOG.warning("bus: %d event(s) not sent at shutdown; agents heal at their "
                            "next resync", len(self._backlog))
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                with _connection(self.url) as conn:
                    conn.ensure_connection(max_retries=1)
                    producer = Producer(conn.channel(), serializer="json")
                    for exchange in (FANOUT, HOSTS):
                        exchange(producer.channel).declare()
                    LOG.info("bus: publishing to %s%s", redact(self.url),
                             " again" if failures else "")
                    failures = 0
                    self._pump(conn, producer)
            except Exception as exc:  # broker down or the connection broke: back off
                failures += 1
                if failures == 1:
                    LOG.warning("bus: cannot publish to %s (%s); retrying, agents will "
                                "resync", redact(self.url), exc)
                time.sleep(BACKOFF[min(failures, len(BACKOFF)) - 1])

    def _pump(self, conn: Connection, producer: Producer) -> None:
        while not self._stopping:
            with self._cond:
                if not self._backlog:
                    self._cond.wait(1.0)
                event = self._backlog[0] if self._backlog else None
            if event is None:
                # Read the broker's heartbeats (and notice one that went away) while idle.
                try:
                    conn.drain_events(timeout=0.01)
                except socket.timeout:
                    pass
                conn.heartbeat_check()
                continue
            exchange, key = route(event)
            # confirm_publish: returns once the broker has taken it; raises otherwise,
            # and the event stays at the head of the backlog for the next connection.
            producer.publish(event.to_wire(), exchange=exchange, routing_key=key,
                             delivery_mode=1, retry=False)
            with self._cond:
                if self._backlog and self._backlog[0] is event:
                    self._backlog.popleft()
                self.sent += 1
                self._cond.notify_all()


class RabbitSubscriber:
    """Consumes one host's events in a thread, reconnecting forever."""

    def __init__(self, transport_url: str, host: str, handler: Handler,
                 on_connect: Callable[[], None] | None = None):
        self.url = transport_url
        self.host = host
        self.handler = handler
        self.on_connect = on_connect
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netqos-bus-consume",
                                        daemon=True)

    def start(self) -> "RabbitSubscriber":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        stay_connected(self.url, self._stop, self.connected, "bus", self._session)

    def _session(self, conn: Connection, up: Callable[[], None]) -> None:
        tag = uuid.uuid4().hex[:8]
        queues = [host_queue(self.host, tag), fanout_queue(self.host, tag)]
        with Consumer(conn.channel(), queues=queues, callbacks=[self._on_message],
                      accept=["json"], no_ack=True):
            LOG.info("bus: subscribed to %s for host %s", redact(self.url), self.host)
            up()
            if self.on_connect:
                self.on_connect()   # pull everything: we may have missed events
            while not self._stop.is_set():
                try:
                    conn.drain_events(timeout=1.0)
                except socket.timeout:
                    conn.heartbeat_check()

    def _on_message(self, body, message) -> None:
        try:
            event = Event(resource=str(body["resource"]), id=str(body["id"]),
                          revision=int(body["revision"]),
                          hosts=tuple(body.get("hosts") or ()),
                          ports=tuple(body.get("ports") or ()))
        except (KeyError, TypeError, ValueError):
            LOG.warning("bus: ignoring a malformed message %r", body)
            return
        if event.hosts and self.host not in event.hosts:
            return  # a fanout copy of another host's change
        try:
            self.handler(event)
        except Exception:
            LOG.exception("bus: handler failed for %s", event)


class RabbitBus(Bus):
    """The Bus interface on RabbitMQ: publish from servers, subscribe from agents."""

    def __init__(self, transport_url: str):
        amqp_url(transport_url)   # fail early on a malformed URL
        self.url = transport_url
        self.publisher = RabbitPublisher(transport_url)
        self.subscribers: list[RabbitSubscriber] = []

    def publish(self, event: Event) -> None:
        try:
            self.publisher.publish(event)
        except Exception:  # never into the API request
            LOG.exception("bus: could not queue %s", event)

    def subscribe(self, host: str, handler: Handler,
                  on_connect: Callable[[], None] | None = None) -> RabbitSubscriber:
        sub = RabbitSubscriber(self.url, host, handler, on_connect).start()
        self.subscribers.append(sub)
        return sub

    def close(self) -> None:
        self.publisher.close()
        for sub in self.subscribers:
            sub.stop()
