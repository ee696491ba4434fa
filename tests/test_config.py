"""Config loading as a user meets it: real YAML files, and the messages they print."""

import inspect
import re
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import get_args, get_type_hints
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr, ValidationError

from exporter.config import (
    RESERVED_LABELS,
    CloudTarget,
    Config,
    ConfigError,
    NameFilter,
    ObshellTarget,
    OcpTarget,
    Secret,
    SecretFileError,
    Target,
    TargetBase,
    check_secrets,
    load_config,
    parse_duration,
)
from exporter.contract import CATALOGUE
from tests.helpers.process import run_cli

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"

OBSHELL = """\
  - name: ob
    source: obshell
    url: https://10.0.0.1:2886
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), environ or {})


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def one_target(tmp_path: Path, body: str, environ: dict[str, str] | None = None) -> list[str]:
    """Problems of a config whose only target has ``body`` (YAML lines at target level)."""
    indented = textwrap.indent(textwrap.dedent(body), "    ")
    return problems(tmp_path, "targets:\n  - name: t\n" + indented, environ)


# --- the shipped example ---------------------------------------------------------------------


def test_example_loads_with_empty_environment_and_its_secrets_check_clean() -> None:
    config = load_config(EXAMPLE, {})
    assert [t.name for t in config.targets] == ["hz-prod", "ocp-main", "obcloud"]
    assert [type(t) for t in config.targets] == [ObshellTarget, OcpTarget, CloudTarget]
    assert check_secrets(config) == []
    assert config.warnings == []
    assert config.concurrency == 32


def test_example_takes_secrets_from_the_environment() -> None:
    config = load_config(EXAMPLE, {"OB_ROOT_PASSWORD": "root-pw", "OBCLOUD_SK": "sk"})
    obshell, _, cloud = config.targets
    assert isinstance(obshell, ObshellTarget)
    assert isinstance(cloud, CloudTarget)
    assert obshell.password is not None
    assert obshell.password.read() == "root-pw"
    assert cloud.access_key_secret.read() == "sk"
    assert obshell.tenants.matches("app") and not obshell.tenants.matches("test_x")
    assert obshell.labels == {"site": "hz"}


def test_loading_twice_gives_equal_configs(tmp_path: Path) -> None:
    # Reload compares configs to decide what changed.
    path = write(tmp_path, "targets:\n" + OBSHELL + "    password: pw\n")
    assert load_config(path, {}) == load_config(path, {})


# --- defaults, intervals, stale_after --------------------------------------------------------


def test_targets_inherit_defaults_and_override_them_key_by_key(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        defaults:
          timeout: 5s
          restore_history: 2h
          max_concurrency: 2
          timezone: Asia/Shanghai
          tls: {ca_file: /etc/ca.pem, insecure_skip_verify: true}
        targets:
          - name: inherits
            source: obshell
            url: https://a:2886
          - name: overrides
            source: obshell
            url: https://b:2886
            timeout: 3s
            max_concurrency: 8
            timezone: UTC
            tls: {insecure_skip_verify: false}
        """,
    )
    inherits, overrides = config.targets
    assert inherits.timeout == 5
    assert inherits.restore_history == 7200
    assert inherits.max_concurrency == 2
    assert inherits.timezone == ZoneInfo("Asia/Shanghai")
    assert inherits.tls.ca_file == Path("/etc/ca.pem")
    assert inherits.tls.insecure_skip_verify is True
    assert overrides.timeout == 3
    assert overrides.max_concurrency == 8
    assert overrides.timezone == ZoneInfo("UTC")
    assert overrides.tls.ca_file == Path("/etc/ca.pem")
    assert overrides.tls.insecure_skip_verify is False


def test_built_in_defaults_apply_without_a_defaults_section(tmp_path: Path) -> None:
    (target,) = load(tmp_path, "targets:\n" + OBSHELL).targets
    assert (target.timeout, target.restore_history, target.max_concurrency) == (10, 86400, 4)
    assert target.timezone is None
    assert target.labels == {}


TARGETS_OF_EACH_SOURCE = """\
  - {name: o, source: obshell, url: "https://o:2886"}
  - {name: p, source: ocp, url: "https://p", username: u, password: pw}
  - {name: c, source: cloud, url: "https://c", access_key_id: ak, access_key_secret: sk}
"""


def test_interval_defaults_by_source(tmp_path: Path) -> None:
    config = load(tmp_path, "targets:\n" + TARGETS_OF_EACH_SOURCE)
    assert [t.interval for t in config.targets] == [60, 120, 300]


def test_interval_from_defaults_applies_to_every_source(tmp_path: Path) -> None:
    config = load(tmp_path, "defaults: {interval: 90s}\ntargets:\n" + TARGETS_OF_EACH_SOURCE)
    assert [t.interval for t in config.targets] == [90, 90, 90]


def test_a_target_null_overrides_a_default_back_to_the_source_default(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "defaults: {interval: 90s}\ntargets:\n" + OBSHELL + "    interval: null\n",
    )
    assert config.targets[0].interval == 60


def test_stale_after_defaults_to_three_intervals(tmp_path: Path) -> None:
    config = load(tmp_path, "targets:\n" + OBSHELL + "    interval: 30s\n")
    assert config.targets[0].stale_after == 90
    assert config.warnings == []


def test_stale_after_above_the_floor_is_kept(tmp_path: Path) -> None:
    config = load(tmp_path, "targets:\n" + OBSHELL + "    interval: 30s\n    stale_after: 10m\n")
    assert config.targets[0].stale_after == 600
    assert config.warnings == []


def test_stale_after_below_two_intervals_is_raised_with_a_warning(tmp_path: Path) -> None:
    config = load(tmp_path, "targets:\n" + OBSHELL + "    interval: 1m\n    stale_after: 90s\n")
    assert config.targets[0].stale_after == 120
    assert config.warnings == ["targets[0].stale_after: less than 2 x interval; using 2m"]


def test_timeout_must_be_shorter_than_interval(tmp_path: Path) -> None:
    found = problems(tmp_path, "targets:\n" + OBSHELL + "    interval: 10s\n    timeout: 10s\n")
    assert found == ["targets[0].timeout: must be shorter than interval (10s)"]


def test_a_problem_from_an_inherited_value_says_so(tmp_path: Path) -> None:
    found = problems(tmp_path, "defaults: {timeout: 2m}\ntargets:\n" + OBSHELL)
    assert found == ["targets[0].timeout: must be shorter than interval (1m) (set in defaults)"]


def test_a_bad_default_is_reported_once_at_its_own_path(tmp_path: Path) -> None:
    found = problems(tmp_path, "defaults: {timeout: soon, intervall: 1m}\ntargets:\n" + OBSHELL)
    assert len(found) == 2
    assert found[0].startswith("defaults.timeout: not a duration")
    assert found[1] == 'defaults.intervall: unknown key (did you mean "interval"?)'


# --- environment variables -------------------------------------------------------------------


def test_environment_variables_are_expanded_in_values(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        targets:
          - name: ${NAME}
            source: obshell
            url: https://${HOST:-localhost}:2886
            password: ${PASS}
            labels: {site: "${SITE:-hz}", cost: "$$5", literal: "$${NOT_EXPANDED}", dollar: a$b}
        """,
        {"NAME": "prod", "PASS": "p$ss: #{x}", "SITE": ""},
    )
    (target,) = config.targets
    assert target.name == "prod"
    assert target.urls == ["https://localhost:2886"]
    assert target.password is not None
    # A substituted value is not scanned again, and YAML never sees it.
    assert target.password.read() == "p$ss: #{x}"
    # `:-` also replaces an empty value, as in the shell.
    assert target.labels == {
        "site": "hz",
        "cost": "$5",
        "literal": "${NOT_EXPANDED}",
        "dollar": "a$b",
    }


def test_an_unset_variable_without_default_names_the_variable_and_the_path(
    tmp_path: Path,
) -> None:
    found = problems(tmp_path, "targets:\n" + OBSHELL + "    password: ${OB_PASS}\n")
    assert found == ["targets[0].password: environment variable OB_PASS is not set"]


def test_variable_errors_in_lists_carry_the_index(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "targets:\n" + OBSHELL + "    tenants: {include: [a, '${MISSING}', '${bad-name}']}\n",
    )
    assert found == [
        "targets[0].tenants.include[1]: environment variable MISSING is not set",
        "targets[0].tenants.include[2]: use ${NAME} or ${NAME:-default} (and $$ for a literal $)",
    ]


def test_an_unclosed_reference_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, "targets:\n" + OBSHELL + "    password: 'ab${C'\n")
    assert found == ["targets[0].password: unclosed ${ (write $$ for a literal $)"]


def test_a_default_may_hold_a_reference(tmp_path: Path) -> None:
    text = (
        "targets:\n"
        + OBSHELL
        + "    labels: {site: '${OUTER:-${INNER}}', tier: '${OUTER:-a-${INNER:-b}}'}\n"
    )
    config = load(tmp_path, text, {"INNER": "inner"})
    assert config.targets[0].labels == {"site": "inner", "tier": "a-inner"}
    config = load(tmp_path, text, {"OUTER": "outer"})  # an unused default is not looked at
    assert config.targets[0].labels == {"site": "outer", "tier": "outer"}
    found = problems(tmp_path, text)
    assert found == ["targets[0].labels.site: environment variable INNER is not set"]


def test_a_default_without_its_closing_brace_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, "targets:\n" + OBSHELL + "    labels: {site: '${A:-${B}'}\n")
    assert found == ["targets[0].labels.site: unclosed ${ (write $$ for a literal $)"]
    deep = "${A:-" * 100_000 + "}" * 100_000
    found = problems(tmp_path, "targets:\n" + OBSHELL + f"    labels: {{site: '{deep}'}}\n")
    assert found == ["targets[0].labels.site: defaults nested more than 8 deep"]


def test_os_environ_is_the_default_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OB_TEST_TARGET_NAME", "from-env")
    path = write(
        tmp_path,
        "targets:\n  - {name: '${OB_TEST_TARGET_NAME}', source: obshell, url: 'https://h'}\n",
    )
    assert load_config(path).targets[0].name == "from-env"


# --- secrets ---------------------------------------------------------------------------------


def test_password_file_is_read_on_every_read_so_rotation_works(tmp_path: Path) -> None:
    secret_file = tmp_path / "ob_password"
    secret_file.write_text("first\n")
    config = load(tmp_path, "targets:\n" + OBSHELL + f"    password_file: {secret_file}\n")
    target = config.targets[0]
    assert isinstance(target, ObshellTarget)
    password = target.password
    assert password is not None
    assert password.read() == "first"
    before = password.fingerprint()
    secret_file.write_text("second")
    assert password.read() == "second"
    assert password.fingerprint() != before
    assert check_secrets(config) == []


def test_only_one_trailing_newline_is_stripped(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    for content, expected in [("a\n\n", "a\n"), ("a\r\n", "a"), (" a ", " a "), ("", "")]:
        secret_file.write_bytes(content.encode())
        assert Secret(origin="password_file", file=secret_file).read() == expected


def test_relative_secret_files_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ocp").write_text("ocp-pw\n")
    monkeypatch.chdir("/")
    config = load(
        tmp_path,
        """\
        targets:
          - name: ocp
            source: ocp
            url: https://ocp.example.com
            username: admin
            password_file: secrets/ocp
        """,
    )
    target = config.targets[0]
    assert isinstance(target, OcpTarget)
    assert target.password_file == tmp_path / "secrets" / "ocp"
    assert target.password is not None
    assert target.password.read() == "ocp-pw"


def test_check_secrets_names_each_unreadable_file_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    config = load(
        tmp_path,
        f"""\
        targets:
          - name: ok
            source: obshell
            url: https://a
          - name: bad
            source: obshell
            url: https://b
            password_file: {missing}
            tls: {{cert_file: {missing}.crt, key_file: {missing}.key}}
        """,
    )
    assert check_secrets(config) == [
        f"targets[1].tls.cert_file: cannot read {missing}.crt: No such file or directory",
        f"targets[1].tls.key_file: cannot read {missing}.key: No such file or directory",
        f"targets[1].password_file: cannot read {missing}: No such file or directory",
    ]


def test_a_secret_file_that_is_not_text_is_reported_without_its_bytes(tmp_path: Path) -> None:
    secret_file = tmp_path / "binary"
    secret_file.write_bytes(b"\xffs3cr3t-PLANTED-9\xfe")
    with pytest.raises(SecretFileError) as caught:
        Secret(origin="password_file", file=secret_file).read()
    assert str(caught.value) == f"password_file: cannot read {secret_file}: not UTF-8 text"
    assert caught.value.__suppress_context__


def test_inline_secret_reads_and_never_shows_in_repr() -> None:
    secret = Secret(origin="password", value=SecretStr("s3cr3t-PLANTED-0"))
    assert secret.read() == "s3cr3t-PLANTED-0"
    assert "PLANTED" not in repr(secret)
    assert "PLANTED" not in str(secret)
    assert "PLANTED" not in secret.fingerprint()
    with pytest.raises(ValueError, match="exactly one"):
        Secret(origin="password")


# What each target type may need besides the credential under test to validate: OCP takes
# basic auth or a signature; Cloud requires its access key, so another credential goes with it.
_TARGET_BASES: dict[type[TargetBase], list[dict[str, object]]] = {
    ObshellTarget: [{}],
    OcpTarget: [{"username": "u"}, {"access_key_id": "k"}],
    CloudTarget: [{"access_key_id": "k"}, {"access_key_id": "k", "access_key_secret": "other"}],
}


def _holds(annotation: object, kind: type) -> bool:
    """True when `annotation` is `kind`, or a union or generic with `kind` in it."""
    return annotation is kind or any(_holds(arg, kind) for arg in get_args(annotation))


def _credential_keys(target_type: type[TargetBase]) -> list[str]:
    """The config keys of every credential of `target_type`: each secret field (by its
    annotation, so a new one is found whatever its name), and its `_file` twin where it has one."""
    keys = []
    for name, field in target_type.model_fields.items():
        if _holds(field.annotation, SecretStr):
            key = field.alias or name
            keys.append(key)
            if f"{key}_file" in target_type.model_fields:
                keys.append(f"{key}_file")
    return keys


def _secret_properties(target_type: type[TargetBase]) -> list[str]:
    """Every property of `target_type` that hands out a Secret."""
    return [
        name
        for name, member in inspect.getmembers(target_type)
        if isinstance(member, property)
        and member.fget is not None
        and _holds(get_type_hints(member.fget).get("return"), Secret)
    ]


@pytest.mark.parametrize("target_type", get_args(Target), ids=lambda t: t.__name__)
def test_every_credential_of_a_target_is_among_its_secrets(
    tmp_path: Path, target_type: type[TargetBase]
) -> None:
    # The poller redacts what `secrets()` returns: a credential left out of it would leak
    # into logs and the status page.
    keys = _credential_keys(target_type)
    assert keys, "every target type has a credential"
    for key in keys:
        planted = f"planted-{key}"
        value: object = planted
        if key.endswith("_file"):
            value = tmp_path / key
            (tmp_path / key).write_text(planted + "\n")
        data = {"name": "t", "url": "https://10.0.0.1:2886", key: value}
        target = next(
            (t for base in _TARGET_BASES[target_type] if (t := _valid(target_type, base | data))),
            None,
        )
        assert target is not None, f"{target_type.__name__} refuses {key} with every base"
        assert planted in [secret.read() for secret in target.secrets()], key
        assert {name for name in _secret_properties(target_type) if getattr(target, name)} == {
            secret.origin.removesuffix("_file") for secret in target.secrets()
        }, key


def _valid(target_type: type[TargetBase], data: dict[str, object]) -> TargetBase | None:
    try:
        return target_type.model_validate(data)
    except ValidationError:
        return None


def test_every_target_type_is_checked_for_its_secrets() -> None:
    assert set(get_args(Target)) == set(_TARGET_BASES) == set(_concrete(TargetBase))


def _concrete(cls: type[TargetBase]) -> set[type[TargetBase]]:
    found = set()
    for sub in cls.__subclasses__():
        if not inspect.isabstract(sub):
            found.add(sub)
        found |= _concrete(sub)
    return found


def test_secret_values_never_appear_in_errors_or_reprs(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cr3t-PLANTED-2\n")
    valid = textwrap.dedent(
        f"""\
        targets:
          - name: ok
            source: obshell
            url: https://a
            password: s3cr3t-PLANTED-1
            agent_password_file: {secret_file}
          - name: ocp
            source: ocp
            url: https://ocp
            access_key_id: ak
            access_key_secret: ${{SK}}
        """
    )
    environ = {"SK": "s3cr3t-PLANTED-3"}
    config = load(tmp_path, valid, environ)
    for shown in (repr(config), str(config), repr(config.targets), str(config.model_dump())):
        assert "PLANTED" not in shown

    # The same secrets, misplaced where they fail validation, and the config broken elsewhere.
    invalid = valid + textwrap.indent(
        textwrap.dedent(
            """\
            - name: misplaced
              source: obshell
              url: https://admin:s3cr3t-PLANTED-4@host
              interval: s3cr3t-PLANTED-1
              timezone: ${SK}
              tenants: {include: ["s3cr3t-PLANTED-5("]}
              labels: {1bad: s3cr3t-PLANTED-6}
              source_: ${SK}
            - name: numeric
              source: obshell
              url: https://b
              password: 12345678901
            """
        ),
        "  ",
    )
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, invalid, environ)
    text = str(caught.value)
    assert len(caught.value.problems) == 7
    assert "PLANTED" not in text
    assert "12345678901" not in text
    assert "targets[3].password: must be a string (quote it in YAML)" in caught.value.problems


# --- unknown keys, names, sources --------------------------------------------------------------


def test_an_unknown_key_is_an_error_with_its_path_and_a_suggestion(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "concurency: 3\ntargets:\n"
        + OBSHELL
        + "    pasword: x\n    tls: {ca_fil: x}\n    zzz: 1\n",
    )
    assert found == [
        'targets[0].tls.ca_fil: unknown key (did you mean "ca_file"?)',
        'targets[0].pasword: unknown key (did you mean "password"?)',
        "targets[0].zzz: unknown key",
        'concurency: unknown key (did you mean "concurrency"?)',
    ]


def test_an_unknown_key_that_could_be_a_secret_is_not_shown(tmp_path: Path) -> None:
    # A password pasted one line too far out becomes a key of its own.
    found = problems(
        tmp_path,
        "targets:\n"
        + OBSHELL
        + "    password:\n    'Hx9!PLANTED#secret': 1\n    tls: {'k3y/PLANTED=': 1}\n",
    )
    assert found == [
        "targets[0].tls.<key not shown>: unknown key",
        "targets[0].<key not shown>: unknown key",
    ]


def test_warnings_cannot_be_set_from_the_file(tmp_path: Path) -> None:
    assert problems(tmp_path, "warnings: []\ntargets:\n" + OBSHELL) == ["warnings: unknown key"]


def test_keys_of_another_source_are_unknown(tmp_path: Path) -> None:
    found = problems(tmp_path, "targets:\n" + OBSHELL + "    clusters: {ids: [1]}\n")
    assert found == ["targets[0].clusters: unknown key"]


def test_duplicate_target_names_point_at_both(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        targets:
          - {name: a, source: obshell, url: "https://a"}
          - {name: b, source: obshell, url: "https://b"}
          - {name: a, source: obshell, url: "https://c"}
        """,
    )
    assert found == ['targets[2].name: duplicate target name "a" (also targets[0])']


def test_duplicate_names_are_reported_alongside_other_problems(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        targets:
          - {name: a, source: obshell, url: "https://a"}
          - {name: a, source: obshell, url: "ftp://b"}
        """,
    )
    assert found == [
        "targets[1].url: must start with http:// or https://",
        'targets[1].name: duplicate target name "a" (also targets[0])',
    ]


@pytest.mark.parametrize("name", ['""', "'a b'", "a/b", "é"])
def test_target_names_are_restricted(tmp_path: Path, name: str) -> None:
    found = problems(
        tmp_path, f"targets:\n  - {{name: {name}, source: obshell, url: 'https://a'}}\n"
    )
    assert found == ["targets[0].name: must be non-empty and use only letters, digits and _ . : -"]


def test_target_names_may_use_dots_colons_and_dashes(tmp_path: Path) -> None:
    config = load(
        tmp_path, "targets:\n  - {name: hz-1.prod:a_b, source: obshell, url: 'https://a'}"
    )
    assert config.targets[0].name == "hz-1.prod:a_b"


def test_source_is_required_and_checked(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        targets:
          - {name: a, url: "https://a"}
          - {name: b, source: mysql, url: "https://b"}
          - just a string
        """,
    )
    assert found == [
        "targets[0].source: required: one of obshell, ocp, cloud",
        "targets[1].source: must be one of obshell, ocp, cloud",
        "targets[2]: must be a mapping",
    ]


def test_targets_are_required_and_not_empty(tmp_path: Path) -> None:
    assert problems(tmp_path, "concurrency: 4\n") == ["targets: required"]
    assert problems(tmp_path, "targets: []\n") == ["targets: must not be empty"]


def test_concurrency_limits_must_be_positive(tmp_path: Path) -> None:
    found = problems(tmp_path, "concurrency: 0\ntargets:\n" + OBSHELL + "    max_concurrency: 0\n")
    assert found == [
        "concurrency: must be at least 1",
        "targets[0].max_concurrency: must be at least 1",
    ]


def test_a_boolean_is_not_a_concurrency(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "concurrency: true\ntargets:\n" + OBSHELL + "    max_concurrency: false\n"
    )
    assert found == [
        "concurrency: must be an integer, not true or false",
        "targets[0].max_concurrency: must be an integer, not true or false",
    ]
    # Numbers from the environment still work.
    config = load(tmp_path, "concurrency: ${N}\ntargets:\n" + OBSHELL, {"N": "8"})
    assert config.concurrency == 8


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("7d", 604800),
        ("1w", 604800),
        ("1y", 31536000),
        ("500ms", 0.5),
        ("1h30m", 5400),
        ("1d2h3m4s5ms", 93784.005),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "-5s", "1.5s", "5 m", "30s1m", "1h1h", "5M", "s", "0"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"^not a duration: use whole numbers with units"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("30", "use a duration such as 30s, 5m or 1h; a bare number has no unit"),
        ("'30'", "not a duration: use whole numbers with units"),
        ("1.5s", "not a duration: use whole numbers with units"),
        ("0s", "must be longer than 0s"),
    ],
)
def test_bad_durations_in_the_file(tmp_path: Path, value: str, message: str) -> None:
    (found,) = problems(tmp_path, "targets:\n" + OBSHELL + f"    interval: {value}\n")
    assert found.startswith(f"targets[0].interval: {message}")


def test_durations_may_be_given_as_timedelta_in_python() -> None:
    target = ObshellTarget(name="t", url="https://a", interval=timedelta(seconds=20))
    assert target.interval == 20
    assert target.stale_after == 60


# --- filters, labels, urls, timezone ---------------------------------------------------------


def test_bad_regex_is_reported_with_its_path(tmp_path: Path) -> None:
    found = problems(tmp_path, "targets:\n" + OBSHELL + "    tenants: {exclude: [ok, '[a-']}\n")
    assert found == [
        "targets[0].tenants.exclude[1]: invalid regular expression:"
        " unterminated character set at position 0"
    ]


def test_name_filter_matches_whole_names_and_ids() -> None:
    default = NameFilter()
    assert default.matches("anything")
    tenants = NameFilter.model_validate({"include": ["app.*", "db"], "exclude": ["app_test"]})
    assert tenants.matches("app1") and tenants.matches("db")
    assert not tenants.matches("mydb")  # full match, not search
    assert not tenants.matches("app_test")
    by_id = NameFilter.model_validate({"ids": [1001, "ob317v4uif"]})
    assert by_id.matches("x", 1001) and by_id.matches("x", "1001")
    assert by_id.matches("y", "ob317v4uif")
    assert not by_id.matches("x", 7)
    assert not by_id.matches("x")


def test_ocp_clusters_can_be_chosen_by_id(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        targets:
          - name: ocp
            source: ocp
            url: https://ocp
            username: u
            password: p
            clusters: {ids: [3, 5]}
        """,
    )
    target = config.targets[0]
    assert isinstance(target, OcpTarget)
    assert target.clusters.matches("c", 5) and not target.clusters.matches("c", 4)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("job", "reserved: Prometheus or the exporter itself sets this label"),
        ("instance", "reserved: Prometheus or the exporter itself sets this label"),
        ("tenant_name", "reserved: Prometheus or the exporter itself sets this label"),
        ("target", "reserved: Prometheus or the exporter itself sets this label"),
        ("__meta", "label names starting with __ are reserved for Prometheus"),
        ("1abc", "label names must match [a-zA-Z_][a-zA-Z0-9_]*"),
        ("a-b", "label names must match [a-zA-Z_][a-zA-Z0-9_]*"),
        ("''", "label names must match [a-zA-Z_][a-zA-Z0-9_]*"),
    ],
)
def test_bad_label_names(tmp_path: Path, label: str, message: str) -> None:
    found = problems(tmp_path, "targets:\n" + OBSHELL + f"    labels: {{{label}: x}}\n")
    shown = label.strip("'")
    assert found == [f"targets[0].labels.{shown}: {message}"]


def test_reserved_labels_cover_prometheus_and_the_exporters_labels() -> None:
    assert {"job", "instance", "target", "source", "ob_cluster_id", "raw_status"} <= RESERVED_LABELS
    emitted = {label for spec in CATALOGUE.values() for label in spec.labels}
    assert emitted <= RESERVED_LABELS


def test_label_values_must_be_strings(tmp_path: Path) -> None:
    found = problems(tmp_path, "targets:\n" + OBSHELL + "    labels: {rack: 1.10}\n")
    assert found == ["targets[0].labels.rack: must be a string (quote it in YAML)"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://h", "must start with http:// or https://"),
        ("10.0.0.1:2886", "must start with http:// or https://"),
        ("https://", "has no host"),
        ("https://:2886", "has no host"),
        ("https://h:99999", "is not a valid URL (check the host and port)"),
        ("https://h/a?x=1", "must not have a query or fragment"),
        ("https://h#top", "must not have a query or fragment"),
        ("https://h /x", "must not contain spaces"),
        (
            "https://root:pw@h",
            "must not contain user info (user:password@): it would be logged;"
            " use the credential keys instead",
        ),
    ],
)
def test_url_validation(tmp_path: Path, url: str, message: str) -> None:
    found = problems(tmp_path, f"targets:\n  - {{name: a, source: obshell, url: '{url}'}}\n")
    assert found == [f"targets[0].url: {message}"]


def test_urls_keep_their_path_and_lose_a_trailing_slash(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        targets:
          - name: ob
            source: obshell
            urls: ["https://n1:2886/", "HTTPS://n2:2886"]
          - name: ocp
            source: ocp
            url: https://gw.example.com/ocp/
            access_key_id: ak
            access_key_secret: sk
        """,
    )
    assert config.targets[0].urls == ["https://n1:2886", "HTTPS://n2:2886"]
    assert config.targets[1].urls == ["https://gw.example.com/ocp"]


def test_obshell_needs_exactly_one_of_url_and_urls(tmp_path: Path) -> None:
    assert one_target(tmp_path, "source: obshell\n") == [
        "targets[0].url: required (or urls: obshell nodes of one cluster)"
    ]
    assert one_target(tmp_path, "source: obshell\nurl: https://a\nurls: [https://b]\n") == [
        "targets[0].urls: give url or urls, not both"
    ]
    assert one_target(tmp_path, "source: obshell\nurls: []\n") == [
        "targets[0].urls: must not be empty"
    ]


def test_urls_must_be_unique(tmp_path: Path) -> None:
    found = one_target(tmp_path, "source: obshell\nurls: [https://a, https://b, https://a/]\n")
    assert found == ["targets[0].urls[2]: duplicate of urls[0]"]


def test_plain_http_obshell_gets_a_warning_per_url(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        targets:
          - {name: a, source: obshell, url: "http://a:2886"}
          - {name: b, source: obshell, urls: ["https://b1", "http://b2"]}
          - {name: c, source: ocp, url: "http://c", username: u, password: p}
        """,
    )
    warning = (
        "http:// sends the obshell password protected only by 512-bit RSA before obshell 4.4.2;"
        " use https"
    )
    assert config.warnings == [
        f"targets[0].url: {warning}",
        f"targets[1].urls[1]: {warning}",
        "targets[2].url: http:// sends the OCP password in clear text (HTTP basic auth); use https",
    ]


def test_timezone_must_be_an_iana_name(tmp_path: Path) -> None:
    config = load(tmp_path, "targets:\n" + OBSHELL + "    timezone: Europe/Berlin\n")
    assert config.targets[0].timezone == ZoneInfo("Europe/Berlin")
    for zone in ("Mars/Olympus", "../etc/passwd", "''"):
        assert one_target(tmp_path, f"source: obshell\nurl: https://a\ntimezone: {zone}\n")[
            0
        ].startswith("targets[0].timezone: ")


def test_tls_client_certificate_needs_its_key(tmp_path: Path) -> None:
    found = one_target(tmp_path, "source: obshell\nurl: https://a\ntls: {cert_file: c.pem}\n")
    assert found == ["targets[0].tls.key_file: cert_file and key_file go together"]


# --- credentials per source ------------------------------------------------------------------


def test_password_and_password_file_together_are_an_error(tmp_path: Path) -> None:
    found = one_target(
        tmp_path,
        "source: obshell\nurl: https://a\npassword: x\npassword_file: /p\n"
        "agent_password: y\nagent_password_file: /q\n",
    )
    assert found == [
        "targets[0].password_file: give password or password_file, not both",
        "targets[0].agent_password_file: give agent_password or agent_password_file, not both",
    ]


def test_obshell_without_password_means_empty_password(tmp_path: Path) -> None:
    target = load(tmp_path, "targets:\n" + OBSHELL).targets[0]
    assert isinstance(target, ObshellTarget)
    assert target.password is None and target.agent_password is None


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ("", "targets[0].username: required, with password (or password_file); or use"),
        ("username: u\npassword: p\naccess_key_id: k\n", "targets[0].access_key_id: give"),
        ("username: u\n", "targets[0].password: required with username (or password_file)"),
        ("password: p\n", "targets[0].username: required with password"),
        ("access_key_id: k\n", "targets[0].access_key_secret: required with access_key_id"),
        ("access_key_secret: s\n", "targets[0].access_key_id: required with access_key_secret"),
    ],
)
def test_ocp_needs_exactly_one_auth_mode(tmp_path: Path, credentials: str, expected: str) -> None:
    (found,) = one_target(tmp_path, "source: ocp\nurl: https://ocp\n" + credentials)
    assert found.startswith(expected)


def test_ocp_access_key_mode(tmp_path: Path) -> None:
    sk = tmp_path / "sk"
    sk.write_text("secret\n")
    target = load(
        tmp_path,
        f"targets:\n  - {{name: o, source: ocp, url: 'https://o', access_key_id: k,"
        f" access_key_secret_file: '{sk}'}}\n",
    ).targets[0]
    assert isinstance(target, OcpTarget)
    assert target.password is None
    assert target.access_key_secret is not None
    assert target.access_key_secret.read() == "secret"


def test_cloud_requires_its_access_key(tmp_path: Path) -> None:
    assert one_target(tmp_path, "source: cloud\nurl: https://c\n") == [
        "targets[0].access_key_id: required"
    ]
    assert one_target(tmp_path, "source: cloud\nurl: https://c\naccess_key_id: k\n") == [
        "targets[0].access_key_secret: required (or access_key_secret_file)"
    ]


# --- the file itself ---------------------------------------------------------------------------


def test_yaml_syntax_error_gives_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "targets:\n  - name: a\n    url: [https://a\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    (found,) = caught.value.problems
    assert re.fullmatch(rf"{re.escape(str(path))}: line \d+ column \d+: .+", found)


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "targets:\n  - name: a\n    source: obshell\n    name: b\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.problems == [f"{path}: line 4 column 5: duplicate key 'name'"]


@pytest.mark.parametrize(
    "tagged", ["!!int hunter2secret", "!!bool hunter2secret", "!!timestamp hunter2secret"]
)
def test_a_value_its_yaml_tag_cannot_read_is_a_config_error_that_hides_it(
    tmp_path: Path, tagged: str
) -> None:
    # PyYAML's own error (a ValueError or KeyError, a traceback) would quote the value.
    path = write(tmp_path, f"targets:\n  - name: a\n    password: {tagged}\n")
    result = run_cli("--config.file", str(path), "--config.check")
    assert result.returncode == 1
    assert "hunter2" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    tag = tagged.split()[0]
    assert f"{path}: line 3 column 15: the value cannot be read as {tag} (not shown)" in (
        result.stderr
    )


ALIAS_BOMB = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 9)}]\n" for i in range(9)
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (ALIAS_BOMB + "targets: *l8\n", r"aliases expand the document to more than \d+ values \(an alias bomb\?\)"),
        ("targets: " + "[" * 100_000 + "]" * 100_000 + "\n", r"line 1 column \d+: nested deeper than 64 levels"),
        ("targets:\n" + "".join(" " * i + "- \n" for i in range(1, 200)), r"line \d+ column \d+: nested deeper than 64 levels"),
        ("a: &a [*a]\ntargets: *a\n", "an alias refers to a value that contains it"),
        ("".join(f"x{i}: &x{i} [{f'*x{i - 1}' if i else 1}]\n" for i in range(100)) + "targets: *x99\n",
         "aliases nest values deeper than 64 levels"),
    ],
    ids=["alias-bomb", "deep-flow", "deep-block", "self-alias", "alias-chain"],
)  # fmt: skip
def test_alias_bombs_and_deep_nesting_are_one_clear_error(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    (found,) = caught.value.problems
    assert re.fullmatch(rf"{re.escape(str(path))}: {problem}", found), found


def test_yaml_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    # A key a merge brings in may be overridden: only keys written twice are duplicates.
    config = load(
        tmp_path,
        """\
        targets:
          - &base {name: a, source: obshell, url: "https://a", interval: 30s}
          - {<<: *base, name: b}
        """,
    )
    assert [(t.name, t.interval) for t in config.targets] == [("a", 30), ("b", 30)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty; it needs at least a targets: list"),
        ("# only a comment\n", "the file is empty; it needs at least a targets: list"),
        ("- a\n- b\n", "the top level must be a mapping with a targets: list"),
        ("just text\n", "the top level must be a mapping with a targets: list"),
    ],
)
def test_empty_or_non_mapping_file(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.problems == [f"{path}: {message}"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.problems == [f"{path}: cannot read: No such file or directory"]
