"""Email goes to a real SMTP server on loopback (aiosmtpd) that requires STARTTLS and AUTH;
the client verifies the server's certificate against a CA made for the test (named by
SSL_CERT_FILE, as an operator would name a private CA)."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from blchannels import EXAMPLE, HOSTILE, digest

from backlight_server.alerts.channels import deliver
from backlight_server.alerts.channels.config import EmailChannel

USER = "alerts@example.com"
PASSWORD = "smtp-Pa55word-do-not-log"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", key, "-out", cert, "-subj", f"/CN={name}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


def make_server_cert(folder: Path, ca_key: Path, ca_cert: Path) -> tuple[Path, Path]:
    key, csr, cert = folder / "smtp.key", folder / "smtp.csr", folder / "smtp.pem"
    ext = folder / "smtp.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
         "-out", csr, "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", ext],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


@dataclass
class Inbox:
    messages: list[Envelope] = field(default_factory=list)
    logins: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"


@dataclass
class Smtp:
    port: int
    inbox: Inbox
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that did not


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    ca_key, ca_cert = make_ca(folder, "Test CA")
    _, other = make_ca(folder, "Other CA")
    key, cert = make_server_cert(folder, ca_key, ca_cert)
    return ca_cert, other, key, cert


@pytest.fixture
def smtp(certs: tuple[Path, Path, Path, Path]) -> Iterator[Smtp]:
    ca, other, key, cert = certs
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        inbox.logins.append(data.login)
        ok = data.login == USER.encode() and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield Smtp(port, inbox, ca, other)
    finally:
        controller.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def channel(port: int, **overrides: Any) -> EmailChannel:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": USER,
        "password": PASSWORD,
        "sender": "backlight@example.com",
        "to": ["oncall@example.com", "lead@example.com"],
    }
    return EmailChannel(**{**settings, **overrides})


async def test_email_arrives_over_starttls_with_auth(
    smtp: Smtp, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca))
    result = await deliver(channel(smtp.port), EXAMPLE, client)
    assert (result.ok, result.status, result.error) == (True, 250, "")
    (envelope,) = smtp.inbox.messages
    assert smtp.inbox.logins == [USER.encode()]
    assert envelope.mail_from == "backlight@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "lead@example.com"]
    assert isinstance(envelope.content, bytes)
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert msg["Subject"] == "[Backlight] New error: TypeError: cart is undefined"
    assert msg["From"] == "backlight@example.com"
    assert msg["To"] == "oncall@example.com, lead@example.com"
    assert msg.get_content_type() == "multipart/alternative"
    text, page = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and page is not None
    assert "Play session at this moment: https://backlight.example.com/sessions/s-7f3a?t=" in (
        text.get_content()
    )
    assert '<a href="https://backlight.example.com/errors/42">Open error group</a>' in (
        page.get_content()
    )


async def test_hostile_text_adds_no_header(
    smtp: Smtp, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca))
    result = await deliver(channel(smtp.port), HOSTILE, client)
    assert result.ok
    content = smtp.inbox.messages[0].content
    assert isinstance(content, bytes)
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert len(str(msg["Subject"])) <= 200
    page = msg.get_body(("html",))
    assert page is not None and "<script>" not in page.get_content()
    assert smtp.inbox.messages[0].rcpt_tos == ["oncall@example.com", "lead@example.com"]


async def test_digest_arrives(
    smtp: Smtp, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca))
    assert (await deliver(channel(smtp.port), digest(500), client)).ok
    content = smtp.inbox.messages[0].content
    assert isinstance(content, bytes)
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg["Subject"] == "[Backlight] New errors: 500 alerts"
    text = msg.get_body(("plain",))
    assert text is not None and "and 400 more" in text.get_content()


async def test_wrong_password_is_not_retried_and_not_shown(
    smtp: Smtp, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca))
    wrong = "wrong-Pa55word-do-not-log"
    result = await deliver(channel(smtp.port, password=wrong), EXAMPLE, client)
    assert (result.ok, result.status, result.retry) == (False, 535, False)
    assert wrong not in result.error and PASSWORD not in result.error
    assert not smtp.inbox.messages


async def test_certificate_of_another_ca_is_refused(
    smtp: Smtp, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.other_ca))
    result = await deliver(channel(smtp.port), EXAMPLE, client)
    assert (result.ok, result.retry) == (False, False)
    assert result.error.startswith("TLS: certificate not trusted")
    assert smtp.inbox.logins == [] and not smtp.inbox.messages  # no password sent


async def test_credentials_are_never_sent_without_starttls(
    smtp: Smtp, client: httpx.AsyncClient
) -> None:
    result = await deliver(channel(smtp.port, starttls=False), EXAMPLE, client)
    assert (result.ok, result.retry) == (False, False)
    assert "without STARTTLS" in result.error
    assert smtp.inbox.logins == []


async def test_server_that_refuses_plain_mail_is_not_retried(
    smtp: Smtp, client: httpx.AsyncClient
) -> None:
    # no STARTTLS, no credentials: the server demands STARTTLS first (530)
    result = await deliver(channel(smtp.port, starttls=False, username=""), EXAMPLE, client)
    assert (result.ok, result.status, result.retry) == (False, 530, False)


async def test_unreachable_server_is_retried(client: httpx.AsyncClient) -> None:
    result = await deliver(channel(free_port()), EXAMPLE, client, timeout_s=2)
    assert (result.ok, result.status, result.retry) == (False, None, True)
    assert PASSWORD not in result.error


async def test_hanging_server_hits_the_timeout(client: httpx.AsyncClient) -> None:
    with socket.socket() as listener:  # accepts, then never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = await deliver(channel(port), EXAMPLE, client, timeout_s=0.3)
    assert (result.ok, result.status, result.retry) == (False, None, True)
    assert "timed out" in result.error
