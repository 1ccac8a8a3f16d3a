"""The configuration shared by several controllers, in etcd.

`p4lb-controller --store etcd://HOST:PORT[,HOST:PORT...]` keeps the whole
configuration document (lb_config_document) under one etcd key, wrapped in an
envelope that also carries the `lb flush vip` generations (an event, not a
state, so it travels as a counter per VIP) and the ids of the last commands
written. Every write is a transaction that compares the key's mod_revision
with the revision the writer's model was built from: of two controllers that
change the configuration at once, one wins and the other gets the winner's
value back in the same round trip, re-applies its command to it and tries
again. A command whose id is already in the stored envelope was applied (its
answer was lost, say, with the member that took it): it is not applied twice.

Every controller watches the key (etcd's watch, for changes within
milliseconds) and also reads it once a second: that read is the store's
health in `show lb`, catches anything a broken watch stream missed, and moves
to the next member when one stops answering.

The client is etcd3gw: it speaks etcd's JSON gateway over HTTP, so it does
not tie the controller to a protobuf version (the project's protobuf is pinned
for p4runtime-shell; aetcd needs protobuf > 4, the old etcd3 package pins an
old one). It offers transactions with compares on mod_revision. It knows one member at a
time; going to the next one is done here, and so is reading the watch stream
(see EtcdConfigStore._watch_once for why).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import etcd3gw
import requests
from etcd3gw import exceptions as etcd_exceptions
from etcd3gw.utils import _decode as b64decode
from etcd3gw.utils import _encode as b64encode
from urllib3.exceptions import ReadTimeoutError

log = logging.getLogger(__name__)

STORE_FORMAT = "p4lb-store"
STORE_VERSION = 1
DEFAULT_KEY = "/p4lb/config"
RECENT_COMMANDS = 256  # ids kept in the envelope, to recognise a command already applied
REQUEST_TIMEOUT_S = 1.5
POLL_INTERVAL_S = 1.0
# A watch stream silent this long is opened again from the next revision
# (etcd's progress notifications on an idle watch come every few minutes):
# what bounds noticing a dead stream, a restart request, or a close().
WATCH_READ_TIMEOUT_S = 1.0

_FAILURES = (etcd_exceptions.Etcd3Exception, requests.RequestException, OSError, ValueError)


class StoreUnavailable(Exception):
    """No member of the store answered; the message says which and why."""


class StoreFormatError(Exception):
    """The key holds something that is not a p4lb configuration envelope."""


Endpoint = tuple[str, int]


def parse_store_url(text: str) -> list[Endpoint]:
    """`etcd://HOST:PORT[,HOST:PORT...]` -> endpoints; ValueError naming the bad part."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme != "etcd":
        raise ValueError(f"store {text!r}: expected etcd://HOST:PORT[,HOST:PORT...]")
    endpoints = []
    for part in rest.split(","):
        host, colon, port = part.strip().rpartition(":")
        host = host.strip("[]")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"store {text!r}: {part!r} is not HOST:PORT")
        endpoints.append((host, int(port)))
    return endpoints


def endpoint_text(endpoint: Endpoint) -> str:
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class StoredConfig:
    """One value of the configuration key, at the revision that wrote it (0: none yet)."""

    revision: int
    document: dict[str, Any] | None
    flush_generations: dict[int, int] = field(default_factory=dict)
    command_ids: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return json.dumps({
            "format": STORE_FORMAT,
            "version": STORE_VERSION,
            "config": self.document,
            "flush_generations": {str(k): v for k, v in sorted(self.flush_generations.items())},
            "command_ids": list(self.command_ids[-RECENT_COMMANDS:]),
        }, sort_keys=True).encode()

    @staticmethod
    def decode(raw: bytes, revision: int) -> StoredConfig:
        try:
            envelope = json.loads(raw)
            if not isinstance(envelope, dict) or envelope.get("format") != STORE_FORMAT:
                raise StoreFormatError("not a p4lb configuration (no format p4lb-store)")
            if envelope.get("version") != STORE_VERSION:
                raise StoreFormatError(f"envelope version {envelope.get('version')!r}, "
                                       f"this controller reads {STORE_VERSION}")
            document = envelope["config"]
            generations = {int(k): int(v) for k, v in envelope["flush_generations"].items()}
            ids = tuple(str(i) for i in envelope["command_ids"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise StoreFormatError(f"malformed envelope: {e!r}") from None
        if document is not None and not isinstance(document, dict):
            raise StoreFormatError("config: expected an object")
        return StoredConfig(revision, document, generations, ids)


def _error_text(error: BaseException, timeout_s: float) -> str:
    """What went wrong with one member, in a few words (requests' are long)."""
    detail = str(getattr(error, "detail_text", None) or error or type(error).__name__)
    if isinstance(error, etcd_exceptions.ConnectionTimeoutError | requests.Timeout):
        return f"no answer within {timeout_s:g} s"
    if isinstance(error, etcd_exceptions.ConnectionFailedError | requests.ConnectionError):
        if "refused" in detail.lower():
            return "connection refused"
        if "503" in detail or "unavailable" in detail.lower():
            return f"member unavailable ({' '.join(detail.split())[:120]})"
        return "cannot connect"
    return " ".join(detail.split())[:200]


class EtcdConfigStore:
    """The configuration key in an etcd cluster, reached through any of its members."""

    def __init__(self, endpoints: list[Endpoint], key: str = DEFAULT_KEY,
                 timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        if not endpoints:
            raise ValueError("an etcd store needs at least one endpoint")
        self.endpoints = endpoints
        self.key = key
        self.timeout_s = timeout_s
        self._lock = threading.Lock()  # one request at a time on the shared client
        self._current = 0
        self._clients: dict[Endpoint, etcd3gw.Etcd3Client] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watch_restart = threading.Event()
        self._deliver_lock = threading.Lock()
        self.healthy = False
        self.health_detail = "not contacted yet"
        self.last_revision = 0
        self._health_since = time.monotonic()

    def describe(self) -> str:
        return "etcd://" + ",".join(endpoint_text(e) for e in self.endpoints)

    # --- requests, going to the next member when one fails -----------------------

    def _client(self, endpoint: Endpoint) -> etcd3gw.Etcd3Client:
        client = self._clients.get(endpoint)
        if client is None:
            host, port = endpoint
            # /v3/ is etcd >= 3.4's gateway path; discovering it costs a request.
            client = etcd3gw.client(host=host, port=port, timeout=self.timeout_s,
                                    api_path="/v3/")
            self._clients[endpoint] = client
        return client

    def _request(self, call: Callable[[etcd3gw.Etcd3Client], Any]) -> Any:
        errors = []
        with self._lock:
            for step in range(len(self.endpoints)):
                index = (self._current + step) % len(self.endpoints)
                endpoint = self.endpoints[index]
                try:
                    result = call(self._client(endpoint))
                except _FAILURES as e:
                    errors.append(f"{endpoint_text(endpoint)}: {_error_text(e, self.timeout_s)}")
                    continue
                if index != self._current:
                    log.info("configuration store: now talking to %s", endpoint_text(endpoint))
                    self._current = index
                return result
        raise StoreUnavailable("configuration store unavailable: " + "; ".join(errors))

    @property
    def current_endpoint(self) -> Endpoint:
        return self.endpoints[self._current]

    # --- the configuration key ---------------------------------------------------

    def load(self) -> StoredConfig:
        """The stored configuration (revision 0 and no document when there is none)."""
        found = self._request(lambda c: c.get(self.key, metadata=True))
        if not found:
            return StoredConfig(0, None)
        raw, meta = found[0]
        return StoredConfig.decode(raw, int(meta["mod_revision"]))

    def swap(self, expected_revision: int, new: StoredConfig) -> tuple[bool, StoredConfig]:
        """Writes `new` if the key is still at `expected_revision`.

        Returns (True, what was written, with its revision), or (False, the value
        that is there now)."""
        key = b64encode(self.key)
        txn = {
            "compare": [{"key": key, "result": "EQUAL", "target": "MOD",
                         "mod_revision": expected_revision}],
            "success": [{"request_put": {"key": key, "value": b64encode(new.encode())}}],
            "failure": [{"request_range": {"key": key}}],
        }
        answer = self._request(lambda c: c.transaction(txn))
        if answer.get("succeeded"):
            revision = int(answer["header"]["revision"])
            return True, StoredConfig(revision, new.document, new.flush_generations,
                                      new.command_ids)
        kvs = answer["responses"][0]["response_range"].get("kvs", [])
        if not kvs:
            return False, StoredConfig(0, None)
        return False, StoredConfig.decode(b64decode(kvs[0].get("value", "")),
                                          int(kvs[0]["mod_revision"]))

    # --- following changes -----------------------------------------------------------

    def follow(self, on_change: Callable[[StoredConfig], None],
               poll_interval_s: float = POLL_INTERVAL_S) -> None:
        """Calls `on_change` with every newer value, from a watch and a periodic read."""
        poller = threading.Thread(target=self._poll, args=(on_change, poll_interval_s),
                                  name="store-poll", daemon=True)
        watcher = threading.Thread(target=self._watch, args=(on_change,), name="store-watch",
                                   daemon=True)
        self._threads = [poller, watcher]
        poller.start()
        watcher.start()

    def _deliver(self, on_change: Callable[[StoredConfig], None], stored: StoredConfig) -> None:
        with self._deliver_lock:  # the watch and the poll deliver in revision order
            if stored.revision <= self.last_revision:
                return
            self.last_revision = stored.revision
            try:
                on_change(stored)
            except Exception:  # noqa: BLE001 - the follower must outlive one bad value
                log.exception("applying the stored configuration at revision %d failed",
                              stored.revision)

    def _set_health(self, healthy: bool, detail: str) -> None:
        if healthy != self.healthy:
            self._health_since = time.monotonic()
            (log.info if healthy else log.warning)("configuration store %s: %s",
                                                   "available" if healthy else "unavailable",
                                                   detail)
            if healthy:
                self._restart_watch()  # the old stream died with its member
        self.healthy, self.health_detail = healthy, detail

    def health(self) -> str:
        since = time.monotonic() - self._health_since
        if self.healthy:
            return (f"healthy, revision {self.last_revision}, via "
                    f"{endpoint_text(self.current_endpoint)}")
        return f"unavailable for {since:.0f} s: {self.health_detail}"

    def _poll(self, on_change: Callable[[StoredConfig], None], interval: float) -> None:
        while not self._stopping.is_set():
            try:
                stored = self.load()
            except StoreUnavailable as e:
                self._set_health(False, str(e).removeprefix("configuration store unavailable: "))
            except StoreFormatError as e:
                self._set_health(False, f"the key {self.key} holds no p4lb configuration: {e}")
            else:
                self._set_health(True, "")
                missed = stored.revision > self.last_revision
                if missed:
                    self._deliver(on_change, stored)
                # A watch stream may die unnoticed with its member: start over
                # when it missed a change.
                if missed:
                    self._restart_watch()
            self._stopping.wait(interval)

    def _restart_watch(self) -> None:
        """Asks the watch to start over (on the member that answers now); it does
        within WATCH_READ_TIMEOUT_S."""
        self._watch_restart.set()

    def _watch(self, on_change: Callable[[StoredConfig], None]) -> None:
        while not self._stopping.is_set():
            self._watch_restart.clear()
            endpoint = self.current_endpoint
            try:
                self._watch_once(endpoint, on_change)
            except _FAILURES as e:
                log.debug("watch on %s: %s", endpoint_text(endpoint),
                          _error_text(e, self.timeout_s))
                self._stopping.wait(POLL_INTERVAL_S)

    def _watch_once(self, endpoint: Endpoint, on_change: Callable[[StoredConfig], None]) -> None:
        """One watch stream, read until it ends, stalls or a restart is asked for.

        Read here rather than with etcd3gw's watch(): its cancel shuts a socket
        down by file descriptor number, which may by then belong to another
        socket of the process (it did: the management API's), and a watch
        whose member died is never reported. A read timeout bounds how long a
        dead stream goes unnoticed; etcd's progress notifications keep a live
        one talking."""
        host, port = endpoint
        url = f"http://{endpoint_text(endpoint)}/v3/watch"
        create = {"create_request": {"key": b64encode(self.key),
                                     "start_revision": self.last_revision + 1,
                                     "progress_notify": True}}
        with requests.post(url, json=create, stream=True,
                           timeout=(self.timeout_s, WATCH_READ_TIMEOUT_S)) as response:
            response.raise_for_status()
            lines = response.iter_lines()
            while True:
                try:
                    line = next(lines)
                except StopIteration:
                    return
                except requests.ConnectionError as e:
                    if isinstance(e.__context__, ReadTimeoutError) or "timed out" in str(e):
                        return  # quiet: opened again at once, from the same revision
                    raise
                if self._stopping.is_set() or self._watch_restart.is_set():
                    return
                if not line.strip():
                    continue
                result = json.loads(line).get("result", {})
                for event in result.get("events", ()):
                    kv = event.get("kv", {})
                    if event.get("type") == "DELETE" or "value" not in kv:
                        continue
                    try:
                        stored = StoredConfig.decode(b64decode(kv["value"]),
                                                     int(kv["mod_revision"]))
                    except StoreFormatError as e:
                        log.warning("configuration store: revision %s unreadable: %s",
                                    kv.get("mod_revision"), e)
                        continue
                    self._deliver(on_change, stored)

    def close(self) -> None:
        self._stopping.set()
        self._restart_watch()
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            for client in self._clients.values():
                client.session.close()
