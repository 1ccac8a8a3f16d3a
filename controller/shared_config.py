"""How a controller agrees on its configuration with the others, through the store.

A change (a command, or the collection of drained ASs) is applied to a copy
of the current configuration, and written with a compare-and-swap on the
store's revision (config_store). When another controller wrote first, the
swap answers with its value: that value is adopted and the change applied
again on top of it, so concurrent commands are serialised by the store and
each is validated against the configuration it really lands on. A change
whose id is already in the stored value was written by an earlier attempt
whose answer was lost: it is not applied twice.

Adopting a value (one of ours, or one a watch delivered) hands the owner the
new configuration and the VIPs whose flows an `lb flush vip` cut; the owner
removes flows of ASs that are gone, and programs its switches.

The model adopted from the store never collects a drained AS on its own
(flow_counts_known stays False on it): only a copy that is about to be
written does, and only on a controller whose switches are all its own and
read back, because only that one knows the flows. Everyone else learns of
the collection from the store.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from controller.config_store import RECENT_COMMANDS, EtcdConfigStore, StoredConfig
from controller.lb_config_document import ConfigDocumentError, from_document, to_document
from controller.lb_model import LbConfig

log = logging.getLogger(__name__)

# Swaps lost to other controllers before a command gives up (each loss means
# another command was applied; 200 at once across two controllers need a few).
MAX_SWAP_ATTEMPTS = 100


class SharedConfigError(Exception):
    """The change could not be written; the message is for the user."""


def copy_config(config: LbConfig, flow_counts_known: bool) -> LbConfig:
    """An independent copy, flow counts included (the document does not hold them)."""
    copy = from_document(to_document(config))
    flows = {a.as_id: a.flows for v in config.vips() for a in v.ases.values()}
    for vip in copy.vips():
        for a in vip.ases.values():
            a.flows = flows.get(a.as_id, 0)
    copy.flow_counts_known = flow_counts_known
    return copy


def as_ids(config: LbConfig) -> set[int]:
    return {a.as_id for v in config.vips() for a in v.ases.values()}


class SharedConfig:
    """The configuration in the store, as this controller last saw it."""

    def __init__(
        self,
        store: EtcdConfigStore,
        adopt: Callable[[LbConfig, set[int]], None],
    ) -> None:
        self.store = store
        self._adopt_config = adopt  # (configuration, VIP ids to flush); under the owner's lock
        self.revision = 0
        self.flush_generations: dict[int, int] = {}
        self.command_ids: tuple[str, ...] = ()

    def load(self) -> LbConfig:
        """The stored configuration (empty when the store has none); StoreUnavailable
        when no member answers, SharedConfigError when the value is unreadable."""
        stored = self.store.load()
        config = self._config_of(stored)
        self._note(stored)
        return config

    def _config_of(self, stored: StoredConfig) -> LbConfig:
        if stored.document is None:
            config = LbConfig()
        else:
            try:
                config = from_document(stored.document)
            except ConfigDocumentError as e:
                raise SharedConfigError(
                    f"configuration store: revision {stored.revision} of {self.store.key} "
                    f"is not a valid configuration: {e}") from e
        config.flow_counts_known = False
        return config

    def _note(self, stored: StoredConfig) -> None:
        self.revision = stored.revision
        self.flush_generations = dict(stored.flush_generations)
        self.command_ids = stored.command_ids

    def adopt(self, stored: StoredConfig) -> None:
        """A value another controller wrote (or ours, seen again): newer ones replace
        the model. Call under the owner's lock."""
        if stored.revision <= self.revision:
            return
        config = self._config_of(stored)
        flushed = {vip_id for vip_id, generation in stored.flush_generations.items()
                   if generation != self.flush_generations.get(vip_id, 0)}
        self._note(stored)
        log.info("configuration: revision %d adopted from the store", stored.revision)
        self._adopt_config(config, flushed)

    def change(
        self,
        current: Callable[[], LbConfig],
        mutate: Callable[[LbConfig], set[int]],
        flow_counts_known: bool,
        command_id: str | None = None,
    ) -> bool:
        """Applies `mutate` to a copy of the current configuration and writes it.

        `mutate` returns the VIP ids whose flows it flushes and may raise the
        model's LbConfigError (nothing is written then; it is raised once the
        store has been checked to hold nothing newer). Returns False when the
        copy came out unchanged (nothing written). Raises StoreUnavailable or
        SharedConfigError. Call under the owner's lock."""
        command_id = command_id or uuid.uuid4().hex
        for _attempt in range(MAX_SWAP_ATTEMPTS):
            if command_id in self.command_ids:
                return True  # an earlier attempt was written; its answer was lost
            before = current()
            candidate = copy_config(before, flow_counts_known)
            try:
                flushed = mutate(candidate)
            except Exception:
                # Refused by a model that may be a few ms behind (the VIP it
                # names was just added on another controller): the command is
                # judged against the newest configuration, not a stale copy.
                latest = self.store.load()
                if latest.revision <= self.revision:
                    raise
                self.adopt(latest)
                continue
            document = to_document(candidate)
            if not flushed and document == to_document(before):
                return False
            live = {v.vip_id for v in candidate.vips()}
            generations = {k: v for k, v in self.flush_generations.items() if k in live}
            for vip_id in flushed:
                generations[vip_id] = generations.get(vip_id, 0) + 1
            new = StoredConfig(0, document, generations,
                               (*self.command_ids, command_id)[-RECENT_COMMANDS:])
            written, stored = self.store.swap(self.revision, new)
            if written:
                self._note(stored)
                candidate.flow_counts_known = False
                self._adopt_config(candidate, flushed)
                return True
            if stored.revision <= self.revision:
                self.revision = stored.revision  # the key was deleted: start it again
            else:
                self.adopt(stored)
        raise SharedConfigError(
            f"configuration store: the configuration changed {MAX_SWAP_ATTEMPTS} times while "
            "this command was being applied; try again")
