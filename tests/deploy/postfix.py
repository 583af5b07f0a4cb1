"""A private Postfix instance built from the recipe in deploy/postfix/, for the deployment tests.

Debian's own master.cf (the package's master.cf.dist) with chroot off and the SMTP listener on a
free loopback port, the recipe's main.cf.snippet, master.cf.snippet and transport appended with
only the paths, ports and user swapped, its own queue and log under a temporary folder, and
Postfix's `master` run in the foreground as a child of the test (so the test ends it by its pid).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from tests.serving import free_port

RECIPE = Path(__file__).resolve().parents[2] / "deploy" / "postfix"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
MASTER_CF_DIST = Path("/usr/share/postfix/master.cf.dist")  # Debian's postfix package


def missing() -> str | None:
    """Why a real Postfix cannot run here, or None when it can."""
    if not (Path(POSTCONF).exists() and MASTER_CF_DIST.exists()):
        return "Postfix is not installed (Debian's postfix package; .ci/setup-extras installs it)"
    if os.geteuid() != 0:
        return "Postfix's master must start as root (it drops to its own user)"
    return None


def replaced(text: str, swaps: dict[str, str]) -> str:
    """The recipe with test paths in place; a value the recipe no longer has fails the test."""
    for old, new in swaps.items():
        assert old in text, f"the recipe no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def transport_line(kind: str) -> str:
    """The one line of deploy/postfix/transport whose transport starts with `kind` (uncommented)."""
    for line in (RECIPE / "transport").read_text().splitlines():
        m = re.fullmatch(r"#?(leads\.example\.com\s+(\S+))", line.strip())
        if m and m.group(2).startswith(kind):
            return m.group(1)
    raise AssertionError(f"deploy/postfix/transport has no {kind} line")


class Postfix:
    """One instance: configure with the recipe, `start()`, send to `port`, read `log()`, `stop()`."""

    def __init__(
        self,
        *,
        transport: str,
        ports: dict[str, str] | None = None,
        pipe: dict[str, str] | None = None,
    ) -> None:
        # Postfix's unprivileged users traverse this folder: not a 0700 pytest tmp_path.
        self.root = Path(tempfile.mkdtemp(prefix="leadbot-postfix-"))
        self.root.chmod(0o755)
        self.etc = self.root / "etc"
        self.logfile = self.root / "postfix.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        for name in ("etc", "spool", "lib"):
            (self.root / name).mkdir()
        shutil.chown(self.root / "lib", "postfix")
        self._main_cf()
        self._master_cf(pipe or {})
        (self.etc / "transport").write_text(replaced(transport, ports or {}) + "\n")
        self.postconf_run("postmap", "-c", str(self.etc), f"hash:{self.etc}/transport")

    def _main_cf(self) -> None:
        instance = f"""\
# The test instance: its own folders and port, no DNS, nothing delivered anywhere but LeadBot.
compatibility_level = 3.6
queue_directory = {self.root}/spool
data_directory = {self.root}/lib
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
maillog_file_prefixes = {self.root}
maillog_file = {self.logfile}
default_transport = error:5.7.1 this test delivers to LeadBot only
# Deferred mail is retried within a second or two, not after Postfix's default 5 minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
"""
        recipe = replaced(
            (RECIPE / "main.cf.snippet").read_text(),
            {"/etc/postfix/transport": f"{self.etc}/transport"},
        )
        (self.etc / "main.cf").write_text(instance + "\n" + recipe)

    def _master_cf(self, swaps: dict[str, str]) -> None:
        shutil.copy(MASTER_CF_DIST, self.etc / "master.cf")
        etc = str(self.etc)
        self.postconf_run("postconf", "-c", etc, "-F", "*/*/chroot = n")
        self.postconf_run("postconf", "-c", etc, "-MX", "smtp/inet")
        listener = f"127.0.0.1:{self.port}"
        self.postconf_run(
            "postconf", "-c", etc, "-M", f"{listener}/inet = {listener} inet n - n - - smtpd"
        )
        recipe = replaced((RECIPE / "master.cf.snippet").read_text(), swaps)
        with (self.etc / "master.cf").open("a") as f:
            f.write("\n" + recipe)

    def postconf_run(self, tool: str, *args: str) -> str:
        path = Path(POSTCONF).with_name(tool)
        done = subprocess.run([str(path), *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{tool} {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def setting(self, name: str) -> str:
        return self.postconf_run("postconf", "-c", str(self.etc), "-h", name).strip()

    def start(self, env: dict[str, str]) -> None:
        self.postconf_run("postfix", "-c", str(self.etc), "check")  # creates the queue folders
        daemons = Path(self.setting("daemon_directory"))
        out = (self.root / "master.out").open("wb")
        self.proc = subprocess.Popen(
            [str(daemons / "master"), "-c", str(self.etc), "-d"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, self.diagnostics()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    if s.recv(512).startswith(b"220 "):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "Postfix did not listen: " + self.diagnostics()
            time.sleep(0.1)

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def diagnostics(self) -> str:
        out = self.root / "master.out"
        return (out.read_text(errors="replace") if out.exists() else "") + self.log()

    def deliveries(
        self, recipient: str, count: int = 1, *, status: str | None = None, timeout: float = 40
    ) -> list[str]:
        """Postfix's log lines of `count` deliveries to `recipient` with `status`, or else of
        final ones (sent, bounced: a deferral fails the test)."""
        pattern = re.compile(rf".* to=<{re.escape(recipient)}>.* status=(\w+).*")
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in map(pattern.fullmatch, self.log().splitlines()) if m]
            if status is None:
                assert all(m.group(1) != "deferred" for m in found), f"deferred:\n{self.log()}"
            else:
                found = [m for m in found if m.group(1) == status]
            if len(found) >= count:
                return [m.group(0) for m in found]
            assert time.monotonic() < deadline, f"no delivery to {recipient}:\n{self.diagnostics()}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # master ends its own children
            self.proc.wait(timeout=20)
        shutil.rmtree(self.root, ignore_errors=True)


def runs_as(user: str, argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, user=user, capture_output=True, timeout=60, cwd="/")
    except OSError:
        return False
    return done.returncode == 0


def leadbot_for(user: str, root: Path) -> Path | None:
    """A `leadbot` that `user` can run: the venv's own script, or, where the venv's Python lies
    in a folder only root enters (pyenv under /root), the very same packages and code under
    Debian's python3 of the same version, in a venv of its own under `root`."""
    script = Path(sys.executable).with_name("leadbot")
    if runs_as(user, [str(script.with_name("python")), "-c", "import bot"]):
        return script
    debian = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not debian.exists():
        return None
    venv = root / "venv"
    subprocess.run([str(debian), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    ours = sysconfig.get_path("purelib")  # holds the editable install's finder for the repo too
    site = Path(subprocess.check_output([str(venv / "bin" / "python"), "-c", PURELIB], text=True))
    (site / "leadbot-test.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    shim = venv / "bin" / "leadbot"
    shim.write_text(
        f"#!{venv}/bin/python\nimport sys\nfrom bot.entry import main\nsys.exit(main())\n"
    )
    shim.chmod(0o755)
    return shim if runs_as(user, [str(venv / "bin" / "python"), "-c", "import bot"]) else None


PURELIB = "import sysconfig; print(sysconfig.get_path('purelib'), end='')"
