"""A real Dovecot IMAP server for tests: its own config, passwd-file user and Maildir in a temp dir."""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

USER = "leadbot"
PASSWORD = "p@ss/w rd%1#?"  # characters that need percent-encoding in LEADBOT_IMAP_URL

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}
shutdown_clients = yes
auth_failure_delay = 0
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_dovecot() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None
    )


class Dovecot:
    """Start, stop and restart (same port) a private Dovecot; never touches /etc."""

    def __init__(self, binary: str, *, tls: bool = False) -> None:
        self.binary = binary
        # Not under pytest's 0700 tmp_path: the mail processes run as an unprivileged user.
        self.root = Path(tempfile.mkdtemp(prefix="leadbot-dovecot-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.imaps_port = free_port() if tls else 0
        self.cert = self.root / "cert.pem"
        ssl = "ssl = no"
        if tls:  # a throwaway self-signed certificate for 127.0.0.1; clients trust it by file
            key = self.root / "key.pem"
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    "-keyout",
                    str(key),
                    "-out",
                    str(self.cert),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            key.chmod(0o644)  # read by Dovecot's login processes
            ssl = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{key}"
        if os.geteuid() == 0:
            mail_uid, mail_gid = 65534, 65534  # nobody: Dovecot refuses mail access as root
            login_user, internal_user = "dovenull", "dovecot"
        else:
            mail_uid, mail_gid = os.getuid(), os.getgid()
            login_user = internal_user = pwd.getpwuid(mail_uid).pw_name
        (self.root / "mail").mkdir()
        (self.root / "state").mkdir()
        if os.geteuid() == 0:
            os.chown(self.root / "mail", mail_uid, mail_gid)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        self.process: subprocess.Popen[bytes] | None = None
        self.config = self.root / "dovecot.conf"
        self.config.write_text(
            _CONFIG.format(
                root=self.root,
                port=self.port,
                uid=mail_uid,
                gid=mail_gid,
                login_user=login_user,
                internal_user=internal_user,
                ssl=ssl,
                imaps_port=self.imaps_port,
            )
        )

    @property
    def url(self) -> str:
        from urllib.parse import quote

        return f"imap://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/INBOX?starttls=no"

    def start(self) -> None:
        # -F: stay in the foreground as our child, so stopping it is a signal to a pid we own.
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends every child it forked
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot exited with {self.process.returncode}: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not listen: {self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid  # the session leader's pid is the group id
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(5)
        with contextlib.suppress(ProcessLookupError):  # imap children outlive the master
            os.killpg(group, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the listener is gone before a restart binds again
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    time.sleep(0.05)
            except OSError:
                return

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(USER, PASSWORD)
        return conn

    def append(self, raw: bytes, mailbox: str = "INBOX") -> None:
        conn = self.client()
        try:
            typ, data = conn.append(mailbox, None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def uids(self, mailbox: str) -> list[int]:
        conn = self.client()
        try:
            typ, _ = conn.select(f'"{mailbox}"')
            if typ != "OK":
                return []
            typ, data = conn.uid("SEARCH", "UNDELETED")
            return [int(u) for u in (data[0] or b"").split()]
        finally:
            conn.logout()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def dovecot_or_skip() -> str:
    binary = find_dovecot()
    if binary is None:
        if os.environ.get("LEADBOT_TEST_REQUIRE_POSTGRES"):
            pytest.fail("dovecot is not installed: .ci/setup-extras installs dovecot-imapd")
        pytest.skip("IMAP tests need Dovecot (apt-get install dovecot-imapd, see .ci/setup-extras)")
    return binary
