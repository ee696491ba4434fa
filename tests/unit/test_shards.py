"""Shard selection (`--shard INDEX/COUNT`): every target in exactly one shard, the same one
whatever else the config holds."""

from __future__ import annotations

from pathlib import Path

from exporter.config import Config, load_config
from exporter.poller import select_shard
from tests.helpers.configs import obshell_targets


def targets_config(tmp_path: Path, names: list[str]) -> Config:
    """A config of obshell targets named `names` (no upstream runs)."""
    return load_config(obshell_targets(tmp_path, dict.fromkeys(names, "http://127.0.0.1:1")))


def test_shards_split_the_targets_without_overlap_or_gap(tmp_path: Path) -> None:
    names = [f"cluster-{i}" for i in range(60)]
    config = targets_config(tmp_path, names)
    shards = [[t.name for t in select_shard(config.targets, i, 4)] for i in range(4)]
    assert sorted(name for shard in shards for name in shard) == sorted(names)
    assert all(shards), "a shard of 60 targets in 4 is empty"
    # In config order, as the poller lists them.
    assert all(shard == [n for n in names if n in shard] for shard in shards)


def test_one_shard_is_everything(tmp_path: Path) -> None:
    config = targets_config(tmp_path, ["a", "b", "c"])
    assert [t.name for t in select_shard(config.targets, 0, 1)] == ["a", "b", "c"]


def test_a_target_stays_in_its_shard_when_others_come_and_go(tmp_path: Path) -> None:
    names = [f"cluster-{i}" for i in range(40)]
    before = targets_config(tmp_path, names)
    after = targets_config(tmp_path, [*names[10:], "new-1", "new-2"])

    def shard_of(config: Config) -> dict[str, int]:
        return {t.name: i for i in range(3) for t in select_shard(config.targets, i, 3)}

    old, new = shard_of(before), shard_of(after)
    assert {name: old[name] for name in names[10:]} == {name: new[name] for name in names[10:]}


def test_the_split_is_the_same_in_every_process(tmp_path: Path) -> None:
    # Replicas started apart (another PYTHONHASHSEED, another release) must pick the same
    # split, or a target is polled twice or never: the split is a fixed function of the name.
    config = targets_config(tmp_path, [f"cluster-{i}" for i in range(12)])
    shards = [[t.name for t in select_shard(config.targets, i, 3)] for i in range(3)]
    assert shards == [
        ["cluster-4"],
        ["cluster-0", "cluster-1", "cluster-2", "cluster-3", "cluster-5", "cluster-6", "cluster-7"],
        ["cluster-8", "cluster-9", "cluster-10", "cluster-11"],
    ]
