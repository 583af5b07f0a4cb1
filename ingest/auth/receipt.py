"""Judging who sent each accepted email, once, in the worker that processes it.

`SenderCheck.judge_many` gives each raw email a Verdict (as JSON, for `envelope["auth"]`): from
our edge MTA's `Authentication-Results` when `LEADBOT_TRUSTED_AUTHSERV_ID` names it, else from
LeadBot's own DKIM, SPF and DMARC checks through `LEADBOT_DNS_SERVER`; with neither, nothing is
judged and no query is made. A rep's forward is judged as the rep's message: its own From,
signature and SMTP client, never the forwarded text's headers.
"""

from __future__ import annotations

import email
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32
from typing import Any

from ingest.auth.checks import Received, judge
from ingest.auth.dns import DNSServer, Resolver
from ingest.auth.trusted import read_trusted
from ingest.auth.verdict import Verdict, ascii_domain
from ingest.mail.addresses import parse_single
from ingest.mail.headers import header_values
from storage.errors import AddressError

log = logging.getLogger("leadbot.auth")

HEAD_LIMIT = 256 * 1024  # header bytes read for From and the trusted headers
THREADS = 8  # messages of one batch whose DNS checks wait at the same time
ENVELOPE_KEY = "auth"


@dataclass(frozen=True, kw_only=True)
class AuthOptions:
    """How senders are judged (from Settings; by hand in tests)."""

    dns_server: DNSServer | None = None  # None: no DNS at all
    dns_timeout_s: float = 5.0
    trusted_authserv_id: str | None = None  # set: our MTA's headers instead of our own checks
    internal_domains: frozenset[str] = frozenset()

    @property
    def active(self) -> bool:
        return self.dns_server is not None or bool(self.trusted_authserv_id)


@dataclass(frozen=True)
class ToJudge:
    """One raw email as stored: its id, bytes, way in and envelope."""

    raw_id: int
    content: bytes
    channel: str
    envelope: Mapping[str, Any]


class SenderCheck:
    """Gives accepted emails their verdicts; shared by the batches of one worker."""

    def __init__(self, options: AuthOptions) -> None:
        self.options = options
        self._resolver: Resolver | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def resolver(self) -> Resolver | None:
        server = self.options.dns_server
        if server is not None and self._resolver is None:
            self._resolver = Resolver(server, timeout_s=self.options.dns_timeout_s)
        return self._resolver

    def judge_many(self, items: Sequence[ToJudge]) -> dict[int, dict[str, Any]]:
        """Each item's verdict as JSON, by raw id. DNS checks of a batch run side by side, so a
        batch waits about as long as its slowest message, not the sum."""
        if not self.options.active or not items:
            return {}
        if self.options.trusted_authserv_id or len(items) == 1:
            return {item.raw_id: self.judge(item) for item in items}
        if self._pool is None:
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="leadbot-auth")
        return dict(zip([i.raw_id for i in items], self._pool.map(self.judge, items), strict=True))

    def judge(self, item: ToJudge) -> dict[str, Any]:
        """One message's verdict as JSON; never raises (an error is a note in the verdict)."""
        try:
            return self._judge(item).to_json()
        except Exception as exc:  # a library bug on odd input must not hold the message back
            log.exception("judging the sender of raw input %s failed", item.raw_id)
            return Verdict(notes=(f"error: {type(exc).__name__}",)).to_json()

    def _judge(self, item: ToJudge) -> Verdict:
        head = _head(item.content)
        sender = from_domain(head, self.options.internal_domains)
        trusted = self.options.trusted_authserv_id
        if trusted:
            found = read_trusted(list(head.items()), trusted, from_domain=sender)
            return found or Verdict(
                by=trusted.strip(),
                from_domain=sender,
                notes=(f"no Authentication-Results of {trusted.strip()}",),
            )
        resolver = self.resolver
        assert resolver is not None
        return judge(
            item.content,
            from_domain=sender,
            received=received_by_us(item.channel, item.envelope),
            resolver=resolver,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def received_by_us(channel: str, envelope: Mapping[str, Any]) -> Received:
    """The SMTP client LeadBot itself talked to. Only the SMTP receiver knows one: LMTP comes
    from our own MTA, and an IMAP server's or webhook provider's address says nothing about
    who sent the mail."""
    if channel != "smtp" or envelope.get("lmtp"):
        return Received()
    peer = envelope.get("peer")
    mail_from = envelope.get("mail_from")
    helo = envelope.get("helo")
    return Received(
        peer=str(peer) if peer else None,
        mail_from=str(mail_from) if mail_from is not None else None,
        helo=str(helo) if helo else None,
    )


def _head(content: bytes) -> Message:
    head = content[:HEAD_LIMIT]
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = head.find(sep)
        if at >= 0:
            head = head[: at + len(sep)]
            break
    return email.message_from_bytes(head, policy=compat32)


def from_domain(head: Message, internal_domains: frozenset[str]) -> str | None:
    """The domain of the one From address (RFC 7489 §6.6.1), None when there is not exactly one."""
    values = header_values(head, "from", rfc2047=False)
    if len(values) != 1:
        return None
    try:
        return ascii_domain(parse_single(values[0], header="from", ours=internal_domains).domain)
    except AddressError:
        return None
