"""P4Runtime ``MeterConfig`` <-> data-plane meter rates, as PI's bmv2 backend converts them.

P4Runtime gives rates per second and bursts in units (bytes or packets); BMv2's
``rate_config_t`` (mirrored by ``MeterRate``) wants units per microsecond. A
meter has two rates, committed then peak (bmv2 direct_res_spec.cpp). An unset
config, or every field -1, means "no metering" (every packet green) and resets
the meter; reading such a meter gives no config back.
"""

from __future__ import annotations

from typing import Any

from p4switch.p4runtime.errors import invalid, unimplemented
from p4switch.runtime_api import MeterRate

_UINT32_MAX = 2**32 - 1
_US_PER_S = 1_000_000.0


def to_rates(config: Any, where: str) -> list[MeterRate]:
    """The rates for ``config``; [] means reset. PI's validate_meter_spec checks."""
    for name in ("cir", "cburst", "pir", "pburst"):
        if getattr(config, name) < -1:
            raise invalid(f"{where}: {name} must not be negative, got {getattr(config, name)}")
    for name in ("cburst", "pburst"):
        if getattr(config, name) > _UINT32_MAX:
            raise unimplemented(f"{where}: {name} {getattr(config, name)} is too large "
                                f"(max {_UINT32_MAX})")
    if config.cir == config.cburst == config.pir == config.pburst == -1:
        return []
    if config.cir > config.pir:
        raise invalid(f"{where}: the committed rate (cir {config.cir}) must not exceed the "
                      f"peak rate (pir {config.pir})")
    return [
        MeterRate(config.cir / _US_PER_S, config.cburst),
        MeterRate(config.pir / _US_PER_S, config.pburst),
    ]


def config_values(rates: list[MeterRate]) -> tuple[int, int, int, int] | None:
    """(cir, cburst, pir, pburst) of the MeterConfig for ``rates``; None for a reset meter."""
    if not rates:
        return None
    committed, peak = rates[0], rates[-1]
    return (round(committed.info_rate * _US_PER_S), committed.burst_size,
            round(peak.info_rate * _US_PER_S), peak.burst_size)


def fill_config(rates: list[MeterRate], config: Any) -> None:
    """Write ``rates`` into the MeterConfig ``config``; nothing for a reset meter."""
    values = config_values(rates)
    if values is None:
        return
    config.SetInParent()
    config.cir, config.cburst, config.pir, config.pburst = values
