"""The exporter's GC settings: fewer collector passes, never no collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from exporter import gc_policy


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """Undo tune() for the tests that follow."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_tune_keeps_the_collector_and_collects_cycles_made_after_it() -> None:
    gc_policy.tune()

    assert gc.isenabled()
    assert gc.get_threshold()[0] == gc_policy.YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0  # what startup built is out of every pass

    class Node:
        partner: object = None

    a, b = Node(), Node()
    a.partner, b.partner = b, a  # a cycle, as an exception's traceback makes
    del a, b
    assert gc.collect() >= 2  # still found: freezing did not hide later garbage
