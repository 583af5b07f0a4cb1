"""deploy/nginx/leadbot.conf in a real nginx (Debian's package) with TLS in front of a real
`leadbot serve`: a signed HubSpot webhook arrives intact (body, headers and the public https URL
it signs), a body over the limit is refused by nginx, and /metrics is for the host only."""

from __future__ import annotations

import base64
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.bot.fake_slack import wait_until
from tests.deploy.postfix import free_port

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "leadbot.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LEADBOT = Path(sys.executable).with_name("leadbot")
NAME = "leadbot.example.com"
SECRET = "whsec-proxy-0123456789"

pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists(), reason="nginx is not installed (Debian's nginx; .ci/setup-extras)"
)


def site(root: Path, *, https: int, http_port: int, upstream: int, cert: Path, key: Path) -> str:
    """The recipe with this test's ports and certificate: nothing else changed."""
    text = CONF.read_text()
    for old, new in {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
        "listen [::]:443 ssl;": "",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
        f"/etc/letsencrypt/live/{NAME}/fullchain.pem": str(cert),
        f"/etc/letsencrypt/live/{NAME}/privkey.pem": str(key),
        "/var/www/letsencrypt": str(root),
    }.items():
        assert old in text, f"the recipe no longer contains {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture
def folder() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="leadbot-nginx-"))
    root.chmod(0o755)  # nginx's workers (nobody) read the certificate's folder
    yield root
    shutil.rmtree(root, ignore_errors=True)


def stop(nginx: subprocess.Popen[bytes]) -> None:
    nginx.send_signal(signal.SIGQUIT)  # graceful: open requests finish, then the master exits
    try:
        nginx.wait(timeout=10)
    except subprocess.TimeoutExpired:
        nginx.terminate()  # fast shutdown: a request still waiting for its body is cut
        nginx.wait(timeout=10)


def healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def test_nginx_passes_signed_webhooks_whole_and_keeps_the_limits(
    folder: Path, tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert(NAME)
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    (folder / "key.pem").chmod(0o600)
    https, plain, upstream, smtp = free_port(), free_port(), free_port(), free_port()
    (folder / "site.conf").write_text(
        site(
            folder,
            https=https,
            http_port=plain,
            upstream=upstream,
            cert=folder / "cert.pem",
            key=folder / "key.pem",
        )
    )
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
    forms = tmp_path / "forms.toml"
    forms.write_text(f'[forms.hs]\nprovider = "hubspot"\nsecret = "{SECRET}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADBOT_", "SLACK_"))}
    env |= {
        "LEADBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'leadbot.db'}",
        "LEADBOT_FORMS": str(forms),
        "LEADBOT_INGEST_WORKERS": "1",
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
    }
    serve = subprocess.Popen(
        [str(LEADBOT), "serve", "--smtp-port", str(smtp), "--http-port", str(upstream)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    nginx = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)

    def connect(source: str = "127.0.0.1") -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection("127.0.0.1", https, context=client_tls, timeout=10)
        conn.sock = client_tls.wrap_socket(
            socket.create_connection(("127.0.0.1", https), 10, (source, 0)), server_hostname=NAME
        )
        return conn

    try:
        wait_until(lambda: healthy(upstream) or serve.poll() is not None, timeout=60, interval=0.2)
        assert serve.poll() is None, serve.stdout.read() if serve.stdout else ""
        wait_until(lambda: (folder / "nginx.pid").exists(), timeout=20, interval=0.1)
        # HubSpot signs method, the public https URL, body and timestamp.
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
        answer.read()
        # The same request in plain HTTP is sent on to https, never served.
        with socket.create_connection(("127.0.0.1", plain), timeout=10) as s:
            s.sendall(
                f"GET /healthz HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n".encode()
            )
            head = s.recv(4096).decode()
        assert head.startswith("HTTP/1.1 308") and f"Location: https://{NAME}/healthz" in head

        # Over the body limit: nginx answers from the headers, the body is never read.
        conn = connect()
        conn.putrequest("POST", "/webhooks/hubspot/hs", skip_host=True)
        conn.putheader("Host", NAME)
        conn.putheader("Content-Length", str(27 * 1024 * 1024))
        conn.endheaders()
        assert conn.getresponse().status == 413

        for source, status in (("127.0.0.1", 200), ("127.0.0.2", 403)):  # the host, others
            conn = connect(source)
            conn.request("GET", "/metrics", headers={"Host": NAME})
            answer = conn.getresponse()
            assert answer.status == status, source
            text = answer.read().decode()
        assert "leadbot_store_up" not in text
    finally:
        stop(nginx)
        serve.terminate()
        out, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, out
    log = (folder / "access.log").read_text()
    assert '"POST /webhooks/hubspot/hs HTTP/1.1" 201' in log, log
