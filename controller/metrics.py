"""Prometheus metrics of the load balancer (``p4lb-controller --metrics-addr``).

A scrape reads the same answers as ``show lb --json`` and ``show lb vips
verbose --json`` (controller.show_data), so the metrics, ``show lb`` and
``lbctl top`` never disagree on a figure. The switch counters are read at
scrape time (summed over the connected switches); nothing is cached.

VIPs are labelled ``vip`` (the prefix), ``protocol`` (``any`` for an
all-port VIP) and ``port``; ASs add ``as`` (the address).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

VIP_LABELS = ("vip", "protocol", "port")
AS_LABELS = (*VIP_LABELS, "as")

# query(line) -> the command's data, as LbService.execute(line, as_json=True) gives it.
Query = Callable[[str], dict[str, Any]]


def vip_labels(vip: dict[str, Any]) -> list[str]:
    return [vip["prefix"], vip["protocol"] or "any", str(vip["port"])]


class LbCollector(Collector):
    """Turns the service's structured answers into metric families at each scrape."""

    def __init__(self, query: Query) -> None:
        self.query = query

    def collect(self) -> Iterator[Metric]:
        lb = self.query("show lb")
        vips = self.query("show lb vips verbose")["vips"]
        yield from _vip_metrics(vips)
        yield from _as_metrics(vips)
        yield from _lb_metrics(lb)
        yield from _health_metrics(lb.get("health", []))


def _vip_metrics(vips: list[dict[str, Any]]) -> Iterator[Metric]:
    labels = (*VIP_LABELS, "counter")
    packets = CounterMetricFamily("p4lb_vip_packets", "Packets of a VIP by VPP's four counters "
                                  "(existing_session, first_session, untracked, no_server) "
                                  "and pending_collision", labels=labels)
    octets = CounterMetricFamily("p4lb_vip_bytes", "Bytes of a VIP by VPP's four counters "
                                 "and pending_collision", labels=labels)
    buckets = GaugeMetricFamily("p4lb_vip_new_len", "Buckets of the VIP's new-flow table",
                                labels=VIP_LABELS)
    flows = GaugeMetricFamily("p4lb_vip_flows", "Tracked flows of the VIP", labels=VIP_LABELS)
    draining = GaugeMetricFamily("p4lb_vip_draining", "1 if the VIP was deleted and drains",
                                 labels=VIP_LABELS)
    for vip in vips:
        base = vip_labels(vip)
        for counter, value in (vip["counters"] or {}).items():
            packets.add_metric([*base, counter], value["packets"])
            octets.add_metric([*base, counter], value["bytes"])
        buckets.add_metric(base, vip["new_len"])
        flows.add_metric(base, vip["flows"])
        draining.add_metric(base, 1 if vip["state"] == "draining" else 0)
    yield from (packets, octets, buckets, flows, draining)


def _as_metrics(vips: list[dict[str, Any]]) -> Iterator[Metric]:
    packets = CounterMetricFamily("p4lb_as_packets", "Packets sent to the AS", labels=AS_LABELS)
    octets = CounterMetricFamily("p4lb_as_bytes", "Bytes sent to the AS", labels=AS_LABELS)
    buckets = GaugeMetricFamily("p4lb_as_buckets", "New-flow buckets the AS holds",
                                labels=AS_LABELS)
    flows = GaugeMetricFamily("p4lb_as_flows", "Tracked flows pinned to the AS",
                              labels=AS_LABELS)
    draining = GaugeMetricFamily("p4lb_as_draining", "1 if the AS was deleted and drains",
                                 labels=AS_LABELS)
    for vip in vips:
        for a in vip["ases"]:
            labels = [*vip_labels(vip), a["address"]]
            if a.get("counters") is not None:
                packets.add_metric(labels, a["counters"]["packets"])
                octets.add_metric(labels, a["counters"]["bytes"])
            buckets.add_metric(labels, a["buckets"])
            flows.add_metric(labels, a["flows"])
            draining.add_metric(labels, 1 if a["state"] == "draining" else 0)
    yield from (packets, octets, buckets, flows, draining)


def _lb_metrics(lb: dict[str, Any]) -> Iterator[Metric]:
    yield GaugeMetricFamily("p4lb_tracked_flows", "Flows the controller tracks",
                            value=lb["tracked_flows"])
    yield GaugeMetricFamily("p4lb_buckets", "Flow-table buckets (lb conf buckets)",
                            value=lb["buckets"])
    for name, key, doc in (
        ("p4lb_flows_learned", "flows_learned", "Flows learned from digests and installed"),
        ("p4lb_flows_aged", "flows_aged", "Flows deleted after their idle timeout"),
        ("p4lb_flow_install_failures", "install_failures", "Flow entries a switch refused"),
        ("p4lb_undecodable_switch_messages", "undecodable_switch_messages",
         "Digests, notifications or entries from a switch that could not be decoded"),
    ):
        yield CounterMetricFamily(name, doc, value=lb[key])
    packets = CounterMetricFamily("p4lb_drop_packets", "Packets the data plane dropped",
                                  labels=("reason",))
    octets = CounterMetricFamily("p4lb_drop_bytes", "Bytes the data plane dropped",
                                 labels=("reason",))
    for reason, value in lb["drops"].items():
        packets.add_metric([reason], value["packets"])
        octets.add_metric([reason], value["bytes"])
    yield from (packets, octets)
    connected = GaugeMetricFamily("p4lb_switch_connected", "1 if the session to the switch is "
                                  "up and reconciled", labels=("switch",))
    primary = GaugeMetricFamily("p4lb_switch_primary", "1 if this controller is the switch's "
                                "primary", labels=("switch",))
    for s in lb["switches"]:
        connected.add_metric([s["switch"]], 1 if s["connected"] else 0)
        primary.add_metric([s["switch"]], 1 if s["primary"] else 0)
    yield from (connected, primary)


def _health_metrics(health: list[dict[str, Any]]) -> Iterator[Metric]:
    up = GaugeMetricFamily("p4lb_health_up", "1 if the AS passes its health check",
                           labels=AS_LABELS)
    probes = CounterMetricFamily("p4lb_health_probes", "Health probes by result",
                                 labels=(*AS_LABELS, "result"))
    changes = CounterMetricFamily("p4lb_health_transitions", "Health state changes",
                                  labels=AS_LABELS)
    for check in health:
        for a in check["ases"]:
            labels = [*vip_labels(check["vip"]), a["address"]]
            up.add_metric(labels, 1 if a["state"] == "up" else 0)
            for result, count in a["probes"].items():
                probes.add_metric([*labels, result], count)
            changes.add_metric(labels, a["transitions"])
    yield from (up, probes, changes)


def start_metrics_server(query: Query, host: str, port: int):
    """Serves /metrics on host:port in a thread; returns the server (``.shutdown()``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LbCollector(query))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT (``[::1]:9100`` for IPv6) for --metrics-addr."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not host or int(port) > 65535:
        raise ValueError(f"metrics address {text!r}: expected HOST:PORT (port 0-65535)")
    return host.strip("[]"), int(port)
