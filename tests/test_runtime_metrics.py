"""/metrics carries the standard process_* and python_info series, as every exporter does.

They are read apart from the pre-rendered data (at most once a second) and appended: as text,
or as a second gzip member, and OpenMetrics still ends with one `# EOF`.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from pathlib import Path

import httpx
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from exporter.collector import ExporterState, RuntimeFamilies
from exporter.exposition import Exposition
from tests.helpers.configs import obshell_config
from tests.helpers.process import free_port
from tests.monitoring.stack import Process, wait_for

RUNTIME = {
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_cpu_seconds",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "python_info",
}


def _exposition() -> Exposition:
    state = ExporterState(True, time.time())
    return Exposition(lambda _now: [], lambda: state)


def test_every_format_carries_the_runtime_series_once() -> None:
    exposition = _exposition()
    for open_metrics in (False, True):
        plain = exposition.body(open_metrics, gzipped=False).decode()
        # One gzip member: a reader that stops after the first (httpx, Python's zlib) gets all.
        reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
        unzipped = reader.decompress(exposition.body(open_metrics, gzipped=True)).decode()
        assert reader.eof and not reader.unused_data
        assert unzipped == plain
        parse = openmetrics_families if open_metrics else text_string_to_metric_families
        names = [family.name for family in parse(plain)]
        assert set(names) >= RUNTIME, names
        assert len(names) == len(set(names)), "a family twice"
        assert "oceanbase_backup_exporter_build_info" in names
        if open_metrics:
            assert plain.count("# EOF") == 1 and plain.endswith("# EOF\n")


def test_the_values_are_this_process() -> None:
    values = {
        sample.name: sample.value
        for family in RuntimeFamilies().collect()
        for sample in family.samples
    }
    started = values["process_start_time_seconds"]
    assert time.time() - 3600 * 24 * 365 < started <= time.time()
    assert values["process_resident_memory_bytes"] > 10 * 2**20
    assert abs(values["process_open_fds"] - len(os.listdir("/proc/self/fd"))) <= 1


def test_the_start_time_without_proc_stat(tmp_path: Path) -> None:
    """Under systemd's ProcSubset=pid only the process directories of /proc are readable: the
    boot time then comes from the clock, and process_* stays."""
    (tmp_path / "self").symlink_to("/proc/self")  # no /proc/stat beside it
    runtime = RuntimeFamilies()
    runtime._process._proc = str(tmp_path)
    runtime._process._btime = runtime._process._boot_time()
    with_stat = {s.name: s.value for f in RuntimeFamilies().collect() for s in f.samples}
    without = {s.name: s.value for f in runtime.collect() for s in f.samples}
    assert abs(without["process_start_time_seconds"] - with_stat["process_start_time_seconds"]) < 2


def test_a_running_exporter_serves_them(tmp_path: Path) -> None:
    port = free_port()
    config = obshell_config(tmp_path, "http://127.0.0.1:9")  # nothing to poll there
    exporter = Process(
        "exporter",
        [sys.executable, "-m", "exporter", "--config.file", str(config),
         "--web.listen-address", f"127.0.0.1:{port}"],
        tmp_path,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        text = wait_for("the exporter", lambda: httpx.get(url, timeout=2).text, timeout=30)
        values = {
            sample.name: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        assert "process_resident_memory_bytes" in values, text
        assert values["process_resident_memory_bytes"] > 10 * 2**20
        assert values["process_start_time_seconds"] <= time.time()
        assert values["python_info"] == 1
    finally:
        exporter.stop()


def test_the_process_series_are_read_again_each_second() -> None:
    exposition = _exposition()

    def cpu() -> float:
        text = exposition.body(open_metrics=False, gzipped=False).decode()
        return next(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "process_cpu_seconds_total"
        )

    first = cpu()
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:  # burn CPU past the refresh period
        sum(range(10_000))
    assert cpu() > first
