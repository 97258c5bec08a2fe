"""Live data shared by every server process of a cluster, over RabbitMQ.

An agent's counters (and the journal of its reports) reach one server process: the one its
HTTP request landed on. With a transport_url, that process also publishes them on the
`netqos.live` fanout exchange, and every server process (worker or replica) consumes them
into its own LiveStore, so a console page streams the same charts whichever process
serves it.

Best effort by design: points are worth a second, so nothing is confirmed, queued for
long or replayed. While the broker is away other processes miss points (their charts show
a gap); the process that received them still has them.
"""
from __future__ import annotations

import collections
import logging
import socket
import threading
import uuid

from kombu import Consumer, Exchange, Producer, Queue

from netqos.bus.rabbit import redact, stay_connected

LOG = logging.getLogger(__name__)
LIVE = Exchange("netqos.live", type="fanout", durable=False, auto_delete=False)
BACKLOG = 64          # posts waiting for the broker: a minute of one host, then dropped


class LiveFanout:
    """Publishes this process's live posts and applies everyone else's to `store`."""

    def __init__(self, transport_url: str, store):
        self.url = transport_url
        self.store = store
        self.origin = uuid.uuid4().hex   # this process: its own posts are not re-applied
        self._backlog: collections.deque = collections.deque(maxlen=BACKLOG)
        self._stop = threading.Event()
        self.connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- what the store calls for local data -------------------------------------------
    def counters(self, host: str, at: float, entries: list[dict]) -> None:
        self._send({"kind": "counters", "host": host, "at": at, "ports": entries})

    def events(self, events: list[dict]) -> None:
        self._send({"kind": "events", "events": events})

    def _send(self, body: dict) -> None:
        self._backlog.append({**body, "origin": self.origin})
        with self._lock:
            # Started lazily in the process that serves (uvicorn workers are spawned).
            if self._thread is None or not self._thread.is_alive():
                self.start()

    # --- the thread ------------------------------------------------------------------------
    def start(self) -> "LiveFanout":
        self._thread = threading.Thread(target=self._run, name="netqos-live-fanout",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        stay_connected(self.url, self._stop, self.connected, "live data", self._session)

    def _session(self, conn, up) -> None:
        producer = Producer(conn.channel(), serializer="json")
        queue = Queue(f"netqos.live.{self.origin}", exchange=LIVE,
                      durable=False, auto_delete=True, exclusive=True)
        with Consumer(conn.channel(), queues=[queue], callbacks=[self._on_message],
                      accept=["json"], no_ack=True):
            up()
            LOG.info("live data shared through %s", redact(self.url))
            self._pump(conn, producer)

    def _pump(self, conn, producer) -> None:
        while not self._stop.is_set():
            while self._backlog:
                producer.publish(self._backlog.popleft(), exchange=LIVE, routing_key="",
                                 delivery_mode=1, retry=False)
            try:
                conn.drain_events(timeout=0.05)
            except socket.timeout:
                conn.heartbeat_check()

    def _on_message(self, body, _message) -> None:
        if not isinstance(body, dict) or body.get("origin") == self.origin:
            return
        try:
            if body.get("kind") == "counters":
                self.store.ingest(str(body["host"]), float(body["at"]), list(body["ports"]),
                                  share=False)
            elif body.get("kind") == "events":
                self.store.record(list(body["events"]), share=False)
        except Exception:   # one bad message must not stop the others
            LOG.exception("live data: ignoring a message that does not apply")
