"""Loading our p4c-compiled test programs (tests/p4switch/p4/build/NAME.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p4switch.engine import EmbeddedSwitch

BUILD = Path(__file__).resolve().parents[1] / "p4" / "build"


def program(name: str) -> dict:
    path = BUILD / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not compiled yet (make p4)")
    return json.loads(path.read_text())


def switch(name: str, cpu_port: int | None = None, **kwargs) -> EmbeddedSwitch:
    return EmbeddedSwitch(program(name), cpu_port, **kwargs)


def names(sw: EmbeddedSwitch, suffix: str) -> str:
    """The full JSON name of a table/action ending in ``suffix`` (p4c prefixes
    control names: ``EngIngress.t_exact``)."""
    found = [n for n in sw.table_names() if n == suffix or n.endswith("." + suffix)]
    assert len(found) == 1, (suffix, sw.table_names())
    return found[0]


def action(sw: EmbeddedSwitch, table: str, suffix: str) -> str:
    """The JSON name of ``table``'s action ending in ``suffix``."""
    found = [a for a in sw.table_info(table).actions if a == suffix or a.endswith("." + suffix)]
    assert len(found) == 1, (suffix, sw.table_info(table).actions)
    return found[0]
