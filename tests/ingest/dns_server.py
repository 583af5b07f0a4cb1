"""A DNS server for the tests, on 127.0.0.1 (UDP and TCP, one free port), serving a zone they fill.

Built on dnslib's DNSServer. Answers over UDP are cut at 512 bytes like a classic server's, so a
4096-bit DKIM key comes over TCP after a truncated UDP answer, as it does for real.
"""

from __future__ import annotations

import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

_TYPES = {"TXT": TXT, "A": A, "AAAA": AAAA, "MX": MX}
UDP_LIMIT = 512  # bytes of a UDP answer without EDNS (RFC 1035 §2.3.4)


@dataclass
class Zone(BaseResolver):
    """Records by (name, type); every query is remembered, with the transport it came on."""

    records: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    queries: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # 0: no resolver may cache an answer, so every check reaches this server and can be counted.
    ttl: int = 0

    def add(self, name: str, rtype: str, *values: str) -> None:
        with self.lock:
            self.records[(name.lower().rstrip("."), rtype)].extend(values)

    def remove(self, name: str) -> None:
        with self.lock:
            for key in [k for k in self.records if k[0] == name.lower().rstrip(".")]:
                del self.records[key]

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((qname, qtype, handler.protocol))
            values = list(self.records.get((qname, qtype), []))
            known = any(name == qname for name, _ in self.records)
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        for value in values:
            reply.add_answer(
                RR(request.q.qname, request.q.qtype, rdata=_rdata(qtype, value), ttl=self.ttl)
            )
        if handler.protocol == "udp" and len(reply.pack()) > UDP_LIMIT:
            # RFC 1035 §4.2.1: too big for UDP, so the answer is cut and asked again over TCP.
            # (dnslib's own truncation drops the question too, which resolvers refuse.)
            cut = request.reply()
            cut.header.tc = 1
            return cut
        return reply


def _rdata(qtype: str, value: str) -> object:
    if qtype == "TXT":  # one string holds at most 255 bytes: longer records come in pieces
        return TXT([value[i : i + 255] for i in range(0, len(value), 255)])
    if qtype == "MX":
        preference, _, host = value.partition(" ")
        return MX(host, int(preference))
    return _TYPES[qtype](value)


class _Quiet(DNSLogger):
    def __init__(self) -> None:
        super().__init__("-request,-reply,-truncated,-error,-recv,-send,-data")


@dataclass
class LocalDNS:
    zone: Zone
    port: int

    @property
    def address(self) -> str:
        """What LEADBOT_DNS_SERVER is set to."""
        return f"127.0.0.1:{self.port}"

    def asked(self) -> int:
        return len(self.zone.queries)


@contextmanager
def local_dns(zone: Zone | None = None) -> Iterator[LocalDNS]:
    """The zone served on UDP and TCP of one free port of 127.0.0.1 until the block ends."""
    zone = zone or Zone()
    for _ in range(20):  # the UDP port's TCP twin may be taken: try another port
        udp = DNSServer(zone, address="127.0.0.1", port=0, logger=_Quiet())
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(zone, address="127.0.0.1", port=port, tcp=True, logger=_Quiet())
        except OSError:
            udp.server.server_close()
            continue
        break
    else:
        raise RuntimeError("no free port for the test DNS server")
    udp.start_thread()
    tcp.start_thread()
    try:
        yield LocalDNS(zone, port)
    finally:
        for server in (udp, tcp):
            server.stop()
            server.server.server_close()


@contextmanager
def silent_dns() -> Iterator[str]:
    """A UDP port that takes queries and never answers (a DNS server that has gone away)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
