"""State strings a snapshot keeps once per tenant are shared, not a fresh copy per poll.

At 1,000 targets x 10 tenants each copy of a state field costs ~0.6 MB of the process's
memory (docs/benchmarks.md, issue 15's peak RSS); the mapping itself must not change.
"""

from __future__ import annotations

from exporter.states import (
    BACKUP_TASK_STATES,
    LOG_BACKUP_STATES,
    UNKNOWN,
    backup_task_state,
    log_backup_state,
    upper_snake,
)


def upstream(text: str) -> str:
    """`text` as a new string object, as a parsed answer gives it (never a literal)."""
    return "".join(list(text))


def test_a_known_state_is_the_constant_itself() -> None:
    for raw, states, mapped in (
        (" completed ", BACKUP_TASK_STATES, backup_task_state),
        ("FAILED", BACKUP_TASK_STATES, backup_task_state),
        ("doing", LOG_BACKUP_STATES, log_backup_state),
    ):
        value = mapped(upstream(raw))
        constant = next(s for s in states if s == raw.strip().upper())
        assert value is constant, raw


def test_unknown_and_running_phases_map_as_before() -> None:
    assert backup_task_state(upstream("backup_data_minor")) == "DOING"
    assert backup_task_state(upstream("no such state")) is UNKNOWN
    assert log_backup_state(upstream("")) is UNKNOWN


def test_the_same_encryption_mode_is_one_object_across_tenants() -> None:
    first, second = (
        upper_snake(upstream("Password Encryption")),
        upper_snake(upstream("password-encryption")),
    )
    assert first == "PASSWORD_ENCRYPTION"
    assert first is second
