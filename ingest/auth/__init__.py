"""Who really sent it: DKIM, SPF and DMARC at receipt, or our edge MTA's verdict, as rule facts."""

from __future__ import annotations

from ingest.auth.dns import DNSServer, parse_dns_server
from ingest.auth.receipt import ENVELOPE_KEY, AuthOptions, SenderCheck, ToJudge
from ingest.auth.verdict import Verdict, facts, unverified

__all__ = [
    "ENVELOPE_KEY",
    "AuthOptions",
    "DNSServer",
    "SenderCheck",
    "ToJudge",
    "Verdict",
    "facts",
    "parse_dns_server",
    "unverified",
]
