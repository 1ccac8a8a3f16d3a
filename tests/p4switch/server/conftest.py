"""Fixtures: a real switch on a free loopback port (see switch_harness), with the
compiled test programs of tests/p4switch/p4/build.

Tests marked ``in_process`` need the switch's insides; tests marked
``embedded_only`` check the embedded switch's own parts or a documented
difference from PI (p4switch/p4runtime/__init__.py) and are skipped on BMv2,
where error messages are not compared either (only codes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from switch_harness import IN_PROCESS, TARGET, Program, program, start_switch  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "in_process: needs the switch in the test process")
    config.addinivalue_line("markers",
                            "embedded_only(why): the embedded switch's own part or behaviour")


def pytest_collection_modifyitems(config, items):
    for item in items:
        own = item.get_closest_marker("embedded_only")
        if TARGET == "bmv2" and own is not None:
            item.add_marker(pytest.mark.skip(reason=f"embedded switch only: {own.args[0]}"))
        if not IN_PROCESS and item.get_closest_marker("in_process") is not None:
            item.add_marker(pytest.mark.skip(reason="needs the switch in this process"))


@pytest.fixture(scope="session")
def features() -> Program:
    return program("srv_features")


@pytest.fixture(scope="session")
def minimal() -> Program:
    return program("srv_minimal")


@pytest.fixture
def switch(tmp_path):
    sw = start_switch(tmp_path)
    yield sw
    sw.stop()


@pytest.fixture
def loaded(switch, features):
    """A switch running srv_features, and its primary controller."""
    c = switch.controller()
    c.set_pipeline(features.p4info, features.json)
    return switch, c, features.names
