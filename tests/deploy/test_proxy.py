"""deploy/nginx/leadbot.conf and deploy/Caddyfile in a real nginx and a real Caddy (Debian's
packages) with TLS in front of a real `leadbot serve`: a signed HubSpot webhook arrives intact
(body, headers and the public https URL it signs), plain HTTP is redirected, a body over the
limit is refused by the proxy, and /metrics is for the host only."""

from __future__ import annotations

import base64
import contextlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from tests.bot.fake_slack import wait_until
from tests.serving import free_port, start_serve

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CADDY = shutil.which("caddy") or "/usr/bin/caddy"
NAME = "leadbot.example.com"
SECRET = "whsec-proxy-0123456789"
LIMIT = 26 * 1024 * 1024  # both recipes' body limit (26m, 26MB), a little over LeadBot's


def replaced(text: str, swaps: dict[str, str]) -> str:
    for old, new in swaps.items():
        assert old in text, f"the recipe no longer contains {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture
def folder() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="leadbot-proxy-"))
    root.chmod(0o755)  # nginx's workers (nobody) read the certificate's folder
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[int]:
    """`leadbot serve` with a HubSpot form; its HTTP port. LeadBot's own body limit is raised
    above the proxy's here, so a 413 can only come from the proxy."""
    forms = tmp_path / "forms.toml"
    forms.write_text(
        f'[forms.hs]\nprovider = "hubspot"\nsecret = "{SECRET}"\n'
        f"[forms.big]\nmax_body_bytes = {4 * LIMIT}\n"  # LeadBot reads it all: the proxy must not
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADBOT_", "SLACK_"))}
    env |= {
        "LEADBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'leadbot.db'}",
        "LEADBOT_FORMS": str(forms),
        "LEADBOT_INGEST_WORKERS": "1",
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
        "LEADBOT_MAX_MESSAGE_BYTES": str(4 * LIMIT),
    }
    port = free_port()
    proc = start_serve(env, tmp_path, smtp_port=free_port(), http_port=port)
    try:
        yield port
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out


def stop(proxy: subprocess.Popen[bytes], graceful: signal.Signals) -> None:
    proxy.send_signal(graceful)  # open requests finish, then the process exits
    try:
        proxy.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proxy.kill()  # a request still waiting for its body
        proxy.wait(timeout=10)


def exercise(
    https: int, plain: int, trust: Callable[[ssl.SSLContext], None], *, too_large: set[int]
) -> None:
    """What LeadBot needs of its proxy, asked of the proxy on `https` and `plain`; `too_large`:
    how the proxy answers a body over its limit."""
    tls = ssl.create_default_context()
    trust(tls)

    def connect(source: str = "127.0.0.1") -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection("127.0.0.1", https, timeout=10)
        conn.sock = tls.wrap_socket(
            socket.create_connection(("127.0.0.1", https), 10, (source, 0)), server_hostname=NAME
        )
        return conn

    # HubSpot signs the method, the public https URL, the body and the timestamp.
    body = json.dumps(
        {"fields": [{"objectTypeId": "0-1", "name": "email", "value": "hank@hub.example"}]}
    ).encode()
    ts = str(int(time.time() * 1000))
    url = f"https://{NAME}/webhooks/hubspot/hs"
    mac = hmac.new(SECRET.encode(), b"POST" + url.encode() + body + ts.encode(), "sha256")
    headers = {
        "Host": NAME,
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-v3": base64.b64encode(mac.digest()).decode(),
    }
    conn = connect()
    conn.request("POST", "/webhooks/hubspot/hs", body=body, headers=headers)
    answer = conn.getresponse()
    assert answer.status == 201, answer.read()

    with socket.create_connection(("127.0.0.1", plain), timeout=10) as s:
        s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n".encode())
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 308") and f"Location: https://{NAME}" in head, head

    # Over the limit, to a form whose own limit is far above it (see `serve`): without the
    # proxy's limit LeadBot would read it all and answer.
    conn = connect()
    big = {"Host": NAME, "Content-Type": "application/x-www-form-urlencoded"}
    with contextlib.suppress(OSError):  # the proxy may answer and close before the body is sent
        conn.request("POST", "/forms/big", body=b"x" * (LIMIT + 1024), headers=big)
    assert conn.getresponse().status in too_large

    for source, status in (("127.0.0.1", 200), ("127.0.0.2", 403)):  # the host, anyone else
        conn = connect(source)
        conn.request("GET", "/metrics", headers={"Host": NAME})
        answer = conn.getresponse()
        assert answer.status == status, source
        text = answer.read().decode()
    assert "leadbot_store_up" not in text


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (Debian's nginx)")
def test_nginx_passes_signed_webhooks_whole_and_keeps_the_limits(folder: Path, serve: int) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert(NAME)
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    (folder / "key.pem").chmod(0o600)
    https, plain = free_port(), free_port()
    site = replaced(
        (DEPLOY / "nginx" / "leadbot.conf").read_text(),
        {
            "listen 80;": f"listen 127.0.0.1:{plain};",
            "listen [::]:80;": "",
            "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
            "listen [::]:443 ssl;": "",
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{serve};",
            f"/etc/letsencrypt/live/{NAME}/fullchain.pem": str(folder / "cert.pem"),
            f"/etc/letsencrypt/live/{NAME}/privkey.pem": str(folder / "key.pem"),
            "/var/www/letsencrypt": str(folder),
        },
    )
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(
        f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    include {folder}/site.conf;
}}
"""
    )
    nginx = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")])
    try:
        wait_until(lambda: (folder / "nginx.pid").exists() or nginx.poll() is not None, timeout=20)
        assert nginx.poll() is None, (folder / "error.log").read_text()
        exercise(https, plain, ca.configure_trust, too_large={413})
    finally:
        stop(nginx, signal.SIGQUIT)
    log = (folder / "access.log").read_text()
    assert '"POST /webhooks/hubspot/hs HTTP/1.1" 201' in log, log


@pytest.mark.skipif(not Path(CADDY).exists(), reason="Caddy is not installed (Debian's caddy)")
def test_caddy_passes_signed_webhooks_whole_and_keeps_the_limits(folder: Path, serve: int) -> None:
    https, plain = free_port(), free_port()
    # Before the recipe: this test's ports, and Caddy's own local CA instead of an ACME one
    # (nothing leaves the machine), never installed into the system's trust store.
    instance = f"""{{
	admin off
	local_certs
	skip_install_trust
	default_bind 127.0.0.1
	http_port {plain}
	https_port {https}
}}
"""
    recipe = replaced(
        (DEPLOY / "Caddyfile").read_text(),
        {"reverse_proxy 127.0.0.1:8000": f"reverse_proxy 127.0.0.1:{serve}"},
    )
    (folder / "Caddyfile").write_text(instance + recipe)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder)}
    env |= {"XDG_DATA_HOME": str(folder / "data"), "XDG_CONFIG_HOME": str(folder / "config")}
    log = (folder / "caddy.log").open("wb")
    caddy = subprocess.Popen(
        [CADDY, "run", "--adapter", "caddyfile", "--config", str(folder / "Caddyfile")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    root = folder / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    def trust(tls: ssl.SSLContext) -> None:
        tls.load_verify_locations(cafile=str(root))

    def serving() -> bool:
        if caddy.poll() is not None:
            raise AssertionError((folder / "caddy.log").read_text())
        if not root.exists():
            return False
        tls = ssl.create_default_context(cafile=str(root))
        try:
            with socket.create_connection(("127.0.0.1", https), timeout=2) as s:
                tls.wrap_socket(s, server_hostname=NAME).close()
            return True
        except (OSError, ssl.SSLError):
            return False

    try:
        wait_until(serving, timeout=30, interval=0.2)
        # Caddy 2.6 (Debian 12) cuts the body at max_size and answers 502; later ones say 413.
        exercise(https, plain, trust, too_large={413, 502})
    finally:
        stop(caddy, signal.SIGINT)
        log.close()
