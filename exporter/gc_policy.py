"""How the exporter's process uses Python's cyclic garbage collector.

CPython's default starts a young-generation pass every 700 net allocations of container objects.
A poll cycle allocates objects that live as long as a request (tens of milliseconds, thousands
in flight): at the default they survive a pass or two, are promoted, and fill the older
generations, whose passes then walk every object the exporter keeps. At 1,000 targets that was
a sixth of a steady cycle's CPU (`python -m bench.profile`; figures in docs/benchmarks.md).

The collector is still on: a steady poll makes no cyclic garbage (`gc.DEBUG_SAVEALL` found
none), but an error path may, and it is collected within a few
thousand requests. What startup built (modules, the config) lives as long as the process and is
frozen out of every later pass.
"""

from __future__ import annotations

import gc

# Net container allocations between young passes: a pass then walks at most this many young
# objects (a few ms), a few times per 1,000-target cycle instead of hundreds.
YOUNG_THRESHOLD = 10_000
# Young passes per middle pass, middle passes per full pass: CPython's defaults.
OLDER_THRESHOLDS = (10, 10)


def tune() -> None:
    """Freeze what startup built and raise the young generation's threshold; call once, after
    the config is loaded and before polling starts."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
