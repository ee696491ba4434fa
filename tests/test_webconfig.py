"""--web.config.file: TLS, client certificates, basic auth and headers, with real TLS clients."""

from __future__ import annotations

import shutil
import ssl
import time
from pathlib import Path

import bcrypt
import httpx
import pytest
from aiohttp import web

from exporter import webconfig
from tests.helpers.configs import obshell_config
from tests.helpers.exporter_process import Exporter
from tests.helpers.obshell_stub import ObshellStub
from tests.helpers.process import free_port, run_cli
from tests.helpers.tls_material import CA


def _web_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(body)
    return path


def _context(ca: CA, cert: tuple[str, str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.path))
    if cert:
        context.load_cert_chain(*cert)
    return context


def _client(ca: CA, cert: tuple[str, str] | None = None) -> httpx.Client:
    return httpx.Client(verify=_context(ca, cert), timeout=10)


def test_tls_with_basic_auth_and_headers(obshell: ObshellStub, tmp_path: Path) -> None:
    ca = CA(tmp_path)
    server = ca.issue("server")
    hashed = bcrypt.hashpw(b"scrape-PLANTED-pass", bcrypt.gensalt(4)).decode()
    web = _web_config(tmp_path, f"tls_server_config:\n  cert_file: {server.cert.name}\n  key_file: {server.key.name}\n"
                                f"http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
                                f"basic_auth_users:\n  prometheus: '{hashed}'\n")  # fmt: skip
    exporter = Exporter(
        obshell_config(tmp_path, obshell.url),
        "--web.config.file",
        str(web),
        scheme="https",
        verify=_context(ca),
    )
    try:
        with _client(ca) as client:
            denied = client.get(exporter.url + "/metrics")
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"].startswith("Basic")
            wrong = client.get(
                exporter.url + "/metrics", auth=("prometheus", "wrong-PLANTED-guess")
            )
            assert wrong.status_code == 401
            for _ in range(100):  # the first poll may still be running
                ok = client.get(
                    exporter.url + "/metrics", auth=("prometheus", "scrape-PLANTED-pass")
                )
                if "oceanbase_tenant_info" in ok.text:
                    break
                time.sleep(0.1)
            assert ok.status_code == 200 and "oceanbase_tenant_info" in ok.text
            assert ok.headers["x-frame-options"] == "deny"
        with pytest.raises(httpx.HTTPError):
            httpx.get(exporter.url.replace("https://", "http://") + "/metrics", timeout=5)
    finally:
        stderr = exporter.stop()
    assert "PLANTED" not in stderr


def test_client_certificates_required(obshell: ObshellStub, tmp_path: Path) -> None:
    ca = CA(tmp_path)
    server = ca.issue("server")
    client_cert = ca.issue("scraper", server=False)
    other_ca = CA(tmp_path, "other-ca")
    stranger = other_ca.issue("stranger", server=False)
    web = _web_config(tmp_path, f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n"
                                f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {ca.path}\n")  # fmt: skip
    exporter = Exporter(obshell_config(tmp_path, obshell.url), "--web.config.file", str(web), scheme="https",
                        verify=_context(ca, (str(client_cert.cert), str(client_cert.key))))  # fmt: skip
    try:
        with _client(ca, (str(client_cert.cert), str(client_cert.key))) as client:
            assert client.get(exporter.url + "/metrics").status_code == 200
        for cert in (None, (str(stranger.cert), str(stranger.key))):
            with _client(ca, cert) as client, pytest.raises(httpx.HTTPError):
                client.get(exporter.url + "/metrics")
    finally:
        exporter.stop()


def test_rotated_certificate_is_served_to_new_connections(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    ca = CA(tmp_path)
    first = ca.issue("server")
    live_cert, live_key = tmp_path / "live.crt", tmp_path / "live.key"
    shutil.copy(first.cert, live_cert)
    shutil.copy(first.key, live_key)
    web = _web_config(
        tmp_path, f"tls_server_config:\n  cert_file: {live_cert}\n  key_file: {live_key}\n"
    )
    exporter = Exporter(
        obshell_config(tmp_path, obshell.url),
        "--web.config.file",
        str(web),
        scheme="https",
        verify=_context(ca),
    )
    try:
        second_ca = CA(tmp_path, "second-ca")
        second = second_ca.issue("server2")
        shutil.copy(second.key, live_key)
        shutil.copy(second.cert, live_cert)
        with _client(second_ca) as client:
            assert client.get(exporter.url + "/-/healthy").status_code == 200
        with _client(ca) as client, pytest.raises(httpx.HTTPError):
            client.get(exporter.url + "/-/healthy")
    finally:
        exporter.stop()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
         "tls_server_config.cipher_suites: Extra inputs are not permitted"),
        ("basic_auth_users:\n  u: plaintext-PLANTED\n", "basic_auth_users.u: must be a bcrypt hash"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
         "tls_server_config.client_ca_file: required by RequireAndVerifyClientCert"),
    ],
)  # fmt: skip
def test_bad_web_config_is_an_error_naming_the_key(
    obshell: ObshellStub, tmp_path: Path, body: str, problem: str
) -> None:
    web = _web_config(tmp_path, body)
    result = run_cli(
        "--config.file", str(obshell_config(tmp_path, obshell.url)), "--web.config.file", str(web)
    )
    assert result.returncode == 1
    assert problem in result.stderr
    assert "PLANTED" not in result.stderr


def _start_problems(tmp_path: Path, obshell: ObshellStub, body: str) -> list[str]:
    """Start the exporter with a web config of `body`; it must stop at once with exit 1."""
    web = _web_config(tmp_path, body)
    result = run_cli(
        "--config.file", str(obshell_config(tmp_path, obshell.url)), "--web.config.file", str(web),
        "--web.listen-address", f"127.0.0.1:{free_port()}", timeout=20,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "PLANTED" not in result.stderr
    return result.stderr.splitlines()


def test_missing_and_mismatched_certificates_are_one_line_at_start(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    ca = CA(tmp_path)
    server, other = ca.issue("server"), ca.issue("other")
    missing = _start_problems(
        tmp_path, obshell, f"tls_server_config:\n  cert_file: gone.crt\n  key_file: {server.key}\n"
    )
    assert missing == [
        f"{tmp_path / 'web.yml'}: tls_server_config.cert_file: cannot read"
        f" {tmp_path / 'gone.crt'}: No such file or directory"
    ]
    mismatched = _start_problems(
        tmp_path,
        obshell,
        f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {other.key}\n",
    )
    assert mismatched == [
        f"{tmp_path / 'web.yml'}: tls_server_config: cannot use the certificate, key or client CA:"
        " KEY_VALUES_MISMATCH"
    ]


def test_a_yaml_error_does_not_quote_the_line(obshell: ObshellStub, tmp_path: Path) -> None:
    # An unquoted hash with a stray colon: PyYAML's message would show the line, hash and all.
    found = _start_problems(
        tmp_path, obshell, "basic_auth_users:\n  prometheus: $2b$10$PLANTEDhash: x\n"
    )
    assert found == [
        f"{tmp_path / 'web.yml'}: line 2 column 33: mapping values are not allowed here"
    ]


def test_a_header_value_with_a_line_break_is_refused_at_start(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    found = _start_problems(
        tmp_path,
        obshell,
        'http_server_config:\n  headers:\n    X-Frame-Options: "deny\\r\\nSet-Cookie: PLANTED=1"\n',
    )
    assert found == [
        f"{tmp_path / 'web.yml'}: http_server_config.headers.X-Frame-Options:"
        " must be one line without control characters"
    ]


def test_a_user_given_twice_is_refused_at_start(obshell: ObshellStub, tmp_path: Path) -> None:
    # Plain YAML would keep the last of the two: the password that works would not be the one
    # the reader of the file sees first.
    first = bcrypt.hashpw(b"first", bcrypt.gensalt(4)).decode()
    second = bcrypt.hashpw(b"second-PLANTED", bcrypt.gensalt(4)).decode()
    found = _start_problems(
        tmp_path,
        obshell,
        f"basic_auth_users:\n  prometheus: '{first}'\n  prometheus: '{second}'\n",
    )
    assert found == [f"{tmp_path / 'web.yml'}: line 3 column 3: duplicate key 'prometheus'"]


def _basic_auth_exporter(obshell: ObshellStub, tmp_path: Path, hashed: str) -> Exporter:
    web = _web_config(tmp_path, f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    return Exporter(obshell_config(tmp_path, obshell.url), "--web.config.file", str(web))


def test_a_password_over_72_bytes_is_refused_like_any_wrong_one(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    password = "p" * 72
    exporter = _basic_auth_exporter(
        obshell, tmp_path, bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    )
    try:
        assert exporter.get("/-/healthy", auth=("prometheus", password)).status_code == 200
        # bcrypt reads 72 bytes: anything longer would match the same hash, or make bcrypt 5 raise.
        for longer in (password + "x", password + "é" * 40):
            assert exporter.get("/-/healthy", auth=("prometheus", longer)).status_code == 401
    finally:
        stderr = exporter.stop()
    assert "Traceback" not in stderr and "level=error" not in stderr


async def test_an_unknown_user_costs_a_bcrypt_check_like_a_wrong_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(5))
    checked: list[bytes] = []

    def checkpw(password: bytes, against: bytes) -> bool:
        checked.append(against)
        return bcrypt.hashpw(password, against) == against

    monkeypatch.setattr(webconfig.bcrypt, "checkpw", checkpw)
    app = web.Application(
        middlewares=[webconfig.basic_auth_middleware({"prometheus": hashed.decode()}, {})]
    )

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert (await client.get("/", auth=("prometheus", "wrong"))).status_code == 401
            assert (await client.get("/", auth=("nobody", "wrong"))).status_code == 401
            assert (await client.get("/", auth=("prometheus", "right"))).status_code == 200
    finally:
        await runner.cleanup()
    wrong_password, unknown_user, right = checked
    assert wrong_password == right == hashed
    # The unknown user was checked against a hash of the same cost that nothing matches.
    assert unknown_user != hashed and unknown_user[:7] == hashed[:7] == b"$2b$05$"
