"""The fuzz suite: hypothesis examples against the real switch, ports and controller.

``make test`` runs it with a small budget (well under a minute in all);
``make fuzz`` sets P4LB_FUZZ=large for a budget a hundred times larger.
Each test draws its number of examples from `examples()`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# The server tests' harness and client (switch_harness, p4rt_client, frames).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "p4switch" / "server"))

LARGE = os.environ.get("P4LB_FUZZ") == "large"


def examples(small: int) -> settings:
    """Settings for one fuzz test: ``small`` examples in make test, 100x in make fuzz."""
    return settings(max_examples=small * 100 if LARGE else small, deadline=None,
                    suppress_health_check=list(HealthCheck), derandomize=not LARGE,
                    database=None)
