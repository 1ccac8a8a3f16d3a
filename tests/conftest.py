"""Settings for every test.

Hypothesis' 200 ms per-example deadline measures the machine, not the code:
on a loaded 2-core CI runner a correct example can take longer. Tests that
care about speed are benchmarks (make bench), so no deadline here.
"""

from hypothesis import settings

settings.register_profile("p4lb", deadline=None)
settings.load_profile("p4lb")
