"""`Poller.apply`, a config reload: unchanged targets keep their state and counters, changed
and new ones start afresh, dropped ones disappear."""

from __future__ import annotations

from pathlib import Path

from exporter.config import Config, load_config
from exporter.poller import Poller
from tests.helpers.configs import obshell_targets
from tests.helpers.polling import running_poller

# Nothing listens on port 1: a poll fails at once, with a connection error it counts.
DEAD = "http://127.0.0.1:1"


def config(tmp_path: Path, targets: dict[str, str], extra: str = "") -> Config:
    """A config of obshell targets {name: url}."""
    return load_config(obshell_targets(tmp_path, targets, head=extra))


def polls(poller: Poller) -> dict[str, int]:
    """Each target's polls so far, as its snapshot (and so /metrics) shows it."""
    return {s.name: s.health.polls_total for s in poller.snapshots()}


async def test_a_reload_keeps_unchanged_targets_and_their_counters(tmp_path: Path) -> None:
    async with running_poller(config(tmp_path, {"a": DEAD, "b": DEAD, "c": DEAD})) as poller:
        await poller.poll_all_once()
        await poller.poll_all_once()
        assert polls(poller) == {"a": 2, "b": 2, "c": 2}

        # a unchanged, b moved to another URL, c dropped, d added.
        await poller.apply(config(tmp_path, {"a": DEAD, "b": "http://127.0.0.2:1", "d": DEAD}))
        assert polls(poller) == {"a": 2, "b": 0, "d": 0}
        assert [s.name for s in poller.snapshots()] == ["a", "b", "d"]
        # a's error counts stay too: one failed request per poll.
        assert [count for *_, count in poller.snapshots()[0].health.errors] == [2]

        await poller.poll_all_once()
        assert polls(poller) == {"a": 3, "b": 1, "d": 1}


async def test_a_reload_follows_the_config_order(tmp_path: Path) -> None:
    async with running_poller(config(tmp_path, {"a": DEAD, "b": DEAD})) as poller:
        await poller.apply(config(tmp_path, {"b": DEAD, "a": DEAD}))
        assert [s.name for s in poller.snapshots()] == ["b", "a"]


async def test_a_new_concurrency_starts_every_target_afresh(tmp_path: Path) -> None:
    async with running_poller(config(tmp_path, {"a": DEAD, "b": DEAD})) as poller:
        await poller.poll_all_once()
        await poller.apply(config(tmp_path, {"a": DEAD, "b": DEAD}, extra="concurrency: 3\n"))
        # Their requests now share the new slots: nothing of the old runners is kept.
        assert polls(poller) == {"a": 0, "b": 0}
        assert poller.config.concurrency == 3


async def test_the_same_config_again_changes_nothing(tmp_path: Path) -> None:
    async with running_poller(config(tmp_path, {"a": DEAD, "b": DEAD})) as poller:
        await poller.poll_all_once()
        runners = dict(poller.runners)
        await poller.apply(config(tmp_path, {"a": DEAD, "b": DEAD}))
        assert polls(poller) == {"a": 1, "b": 1}
        assert all(poller.runners[name] is runner for name, runner in runners.items())
