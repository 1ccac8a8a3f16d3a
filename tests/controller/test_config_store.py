"""The etcd store on a real etcd member: compare-and-swap, unreadable values, and a
store that does not answer."""

from __future__ import annotations

import pytest

from controller.config_store import (
    EtcdConfigStore,
    StoredConfig,
    StoreFormatError,
    StoreUnavailable,
    parse_store_url,
)
from p4switch.launch import free_tcp_port
from topo.etcd_cluster import ETCD, SKIP_REASON, EtcdCluster


@pytest.fixture
def etcd(tmp_path):
    if ETCD is None:
        pytest.skip(SKIP_REASON)
    cluster = EtcdCluster(tmp_path).start()
    yield cluster
    cluster.stop()


def store_of(cluster: EtcdCluster) -> EtcdConfigStore:
    return EtcdConfigStore(parse_store_url(cluster.store_url), key="/test/config")


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:2379", "expected etcd://"),
    ("etcd://127.0.0.1", "'127.0.0.1' is not HOST:PORT"),
    ("etcd://a:1,b:99999", "'b:99999' is not HOST:PORT"),
    ("etcd://:2379", "':2379' is not HOST:PORT"),
])
def test_bad_store_urls_name_the_bad_part(url, words) -> None:
    with pytest.raises(ValueError) as e:
        parse_store_url(url)
    assert words in str(e.value)


def test_store_urls_list_every_member() -> None:
    assert parse_store_url("etcd://127.0.0.1:1,[::1]:2, h:3") == [
        ("127.0.0.1", 1), ("::1", 2), ("h", 3)]


def test_a_swap_on_a_stale_revision_is_refused_and_returns_the_winner(etcd) -> None:
    store = store_of(etcd)
    assert store.load() == StoredConfig(0, None)
    ok, first = store.swap(0, StoredConfig(0, {"a": 1}, {3: 1}, ("c1",)))
    assert ok and first.revision > 0
    assert store.load() == first
    # A second writer that built on revision 0 loses, and sees the first write.
    ok, seen = store.swap(0, StoredConfig(0, {"a": 2}, {}, ("c2",)))
    assert not ok and seen == first
    ok, second = store.swap(first.revision, StoredConfig(0, {"a": 2}, {}, ("c1", "c2")))
    assert ok and second.revision > first.revision and store.load().document == {"a": 2}
    store.close()


def test_a_value_that_is_not_ours_is_refused_by_name(etcd) -> None:
    store = store_of(etcd)
    store._request(lambda c: c.put("/test/config", b"{\"hello\": 1}"))
    with pytest.raises(StoreFormatError) as e:
        store.load()
    assert "p4lb-store" in str(e.value)
    store.close()


def test_no_member_answering_is_a_clear_error_naming_each(tmp_path) -> None:
    ports = [free_tcp_port(), free_tcp_port()]
    store = EtcdConfigStore([("127.0.0.1", p) for p in ports])
    with pytest.raises(StoreUnavailable) as e:
        store.load()
    text = str(e.value)
    assert text.startswith("configuration store unavailable: ")
    assert all(f"127.0.0.1:{p}" in text for p in ports)
    store.close()


def test_a_dead_member_is_skipped(etcd) -> None:
    dead = free_tcp_port()
    live = etcd.members[0].client_port
    store = EtcdConfigStore([("127.0.0.1", dead), ("127.0.0.1", live)], key="/test/config")
    ok, _ = store.swap(0, StoredConfig(0, {"x": 1}))
    assert ok and store.current_endpoint == ("127.0.0.1", live)
    store.close()
