"""Redaction of the secrets an upstream echoes in an error message, where the message limit
cuts one off: what reaches the log and the status page holds no REDACT_WINDOW characters of a
secret in a row."""

from __future__ import annotations

import base64

import pytest

from exporter.config import Config
from exporter.poller import REDACT_MIN_LENGTH, REDACT_WINDOW, redact
from exporter.sources.errors import KEPT_MESSAGE, MESSAGE_LIMIT, PollError
from tests.helpers.configs import AGENT_PASSWORD, CLOUD_SECRET, OBSHELL_PASSWORD, OCP_PASSWORD

# Each target's secrets in the forms an upstream may echo: plain, Base64, basic credentials.
FORMS = {
    "ob": [OBSHELL_PASSWORD, AGENT_PASSWORD, base64.b64encode(OBSHELL_PASSWORD.encode()).decode()],
    "ocp": [OCP_PASSWORD, base64.b64encode(f"admin:{OCP_PASSWORD}".encode()).decode()],
    "cloud": [CLOUD_SECRET, base64.b64encode(CLOUD_SECRET.encode()).decode()],
}
CASES = [(target, form) for target, forms in FORMS.items() for form in forms]


def leaks(text: str, secret: str) -> list[str]:
    """The runs of REDACT_WINDOW characters of `secret` that `text` shows, and the beginning
    of it (REDACT_MIN_LENGTH or more characters) that a cut left at its end."""
    runs = {secret[i : i + REDACT_WINDOW] for i in range(len(secret) - REDACT_WINDOW + 1)}
    cut = [secret[:n] for n in range(REDACT_MIN_LENGTH, len(secret)) if text.endswith(secret[:n])]
    return sorted(run for run in runs if run in text) + cut


@pytest.mark.parametrize("limit", [MESSAGE_LIMIT, KEPT_MESSAGE])
@pytest.mark.parametrize(("target", "secret"), CASES)
def test_a_secret_cut_by_a_message_limit_leaves_no_run_of_it(
    three_sources: Config, target: str, secret: str, limit: int
) -> None:
    config = {t.name: t for t in three_sources.targets}
    for kept in range(1, len(secret) + 1):
        # The upstream's text puts `kept` characters of the secret before the limit.
        echoed = "upstream said: " + "x" * (limit - 15 - kept) + secret + " (end)"
        error = PollError("api_error", "/api/v1/ob/info", echoed)
        shown = redact(error.message, config[target])
        assert len(shown) <= MESSAGE_LIMIT
        assert not leaks(shown, secret), (kept, shown[-40:])
        # What came before the secret is kept, up to the limit.
        before = echoed[: echoed.index(secret)]
        assert shown.startswith(before[:MESSAGE_LIMIT])


@pytest.mark.parametrize(("target", "secret"), CASES)
def test_a_secret_cut_off_at_the_end_of_a_short_message_is_redacted(
    three_sources: Config, target: str, secret: str
) -> None:
    config = {t.name: t for t in three_sources.targets}
    for kept in range(REDACT_MIN_LENGTH, len(secret)):
        shown = redact(f"bad password {secret[:kept]}", config[target])
        assert shown == "bad password <redacted>", kept


def test_text_without_a_secret_is_kept_whole(three_sources: Config) -> None:
    message = "HTTP 500: obshell says the tenant 'tenant1' is being restored"
    for target in three_sources.targets:
        assert redact(message, target) == message
