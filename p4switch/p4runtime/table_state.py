"""What the P4Runtime server keeps of a table beside the data plane: the
P4Info facts, and per entry only what the data plane cannot give back
(controller_metadata, metadata, an idle_timeout_ns its millisecond TTL does
not keep exactly). Shared by the general path (table_entries.py) and the
fast one (exact_writes.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from p4switch.p4runtime.exact_reads import NS_PER_MS
from p4switch.p4runtime.p4info_index import TableInfo


@dataclass(slots=True)
class StoredEntry:
    """What an entry has that the data plane does not keep (absent: all zero)."""

    controller_metadata: int = 0
    metadata: bytes = b""
    idle_timeout_ns: int = 0


@dataclass
class TableState:
    info: TableInfo
    extras: dict[int, StoredEntry] = field(default_factory=dict)  # by data-plane handle
    default_entry: StoredEntry = field(default_factory=StoredEntry)
    default_modified: bool = False  # the controller changed the program's default
    in_device_config: bool = True  # False: p4c removed the table from the JSON
    key_refusal: str | None = None  # why the data plane takes no key of this table


def stored_extras(entry: Any, ttl_ms: int | None) -> StoredEntry | None:
    """What the data plane cannot give back of this TableEntry, or None. A
    StoredEntry is never changed in place, so entries may share one."""
    metadata, cookie = entry.metadata, entry.controller_metadata
    ns = entry.idle_timeout_ns
    if metadata or cookie or (ns and ns != (ttl_ms or 0) * NS_PER_MS):
        return StoredEntry(cookie, metadata, ns)
    return None


def keep_extras(state: TableState, handle: int, extras: StoredEntry | None) -> None:
    if extras is None:
        state.extras.pop(handle, None)
    else:
        state.extras[handle] = extras


def ttl_ms_of(ns: int, ttls: dict[int, int]) -> int:
    """The data plane's TTL in ms for ``idle_timeout_ns`` >= 0 (a TTL under 1 ms
    must not become "no ageing"); ``ttls`` remembers a few (flows share them)."""
    ttl = ttls.get(ns)
    if ttl is None:
        ttl = max(1, ns // NS_PER_MS) if ns else 0
        if len(ttls) < 256:
            ttls[ns] = ttl
    return ttl
