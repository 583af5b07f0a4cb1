"""DNS for sender verification: the one resolver LeadBot configures, a timeout on every query.

Nothing here asks the system's resolver unless told to (`LEADBOT_DNS_SERVER=system`): tests point
it at a DNS server of their own on 127.0.0.1, so no query ever leaves the machine.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

SYSTEM = "system"  # LEADBOT_DNS_SERVER=system: the resolvers of /etc/resolv.conf
DEFAULT_PORT = 53
_CACHE_ENTRIES = 10_000  # SPF includes of the big mail providers are asked for again and again


class DNSTempError(Exception):
    """No answer in time, or the server failed (SERVFAIL, refused): a later try may succeed."""


@dataclass(frozen=True)
class DNSServer:
    """Where queries go: an address and port, or the system's resolvers."""

    host: str | None  # None: the system's resolvers
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        if self.host is None:
            return SYSTEM
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_dns_server(value: str) -> DNSServer:
    """`127.0.0.1:5353`, `[::1]:53`, `192.0.2.53` (port 53) or `system`; raises ValueError.

    An address, never a host name: finding the DNS server must not itself need DNS.
    """
    text = value.strip()
    if text.lower() == SYSTEM:
        return DNSServer(None)
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{value!r}: expected [IPv6 address]:port")
        port = rest[1:] or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{value!r}: expected an IP address and port, or 'system'") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r}: the port must be a number from 1 to 65535")
    return DNSServer(str(address), int(port))


class Resolver:
    """A dnspython resolver with its server, timeout and a cache; safe to share between threads."""

    def __init__(self, server: DNSServer, *, timeout_s: float) -> None:
        import dns.resolver  # here, not at the top: `leadbot ingest` without verification skips it

        self.server = server
        self.timeout_s = timeout_s
        if server.host is None:
            self._resolver = dns.resolver.Resolver(configure=True)
        else:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [server.host]
            self._resolver.port = server.port
        self._resolver.lifetime = timeout_s
        self._resolver.timeout = timeout_s
        self._resolver.cache = dns.resolver.LRUCache(_CACHE_ENTRIES)

    def query(self, name: str, rdtype: str, *, timeout_s: float | None = None) -> list[object]:
        """The answer's records (dnspython rdata), [] for no such name or no such record.

        Raises DNSTempError on a timeout or a failing server. CNAMEs are followed by the resolver.
        """
        import dns.exception
        import dns.name
        import dns.resolver

        try:
            answer = self._resolver.resolve(
                dns.name.from_text(name),
                rdtype,
                search=False,
                raise_on_no_answer=False,
                lifetime=min(timeout_s or self.timeout_s, self.timeout_s),
            )
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DNSTempError(f"DNS {rdtype} {name}: {type(exc).__name__}") from None
        except (dns.resolver.NoAnswer, dns.name.NameTooLong, dns.name.LabelTooLong):
            return []
        except dns.exception.DNSException as exc:  # an unusable name or a malformed answer
            raise DNSTempError(f"DNS {rdtype} {name}: {exc}") from None
        if answer.rrset is None:
            return []
        return list(answer.rrset)

    def txt(self, name: str, *, timeout_s: float | None = None) -> list[bytes]:
        """Each TXT record of `name`, its strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2)."""
        import dns.rdatatype

        return [
            b"".join(getattr(r, "strings", ()))
            for r in self.query(name, "TXT", timeout_s=timeout_s)
            if getattr(r, "rdtype", None) == dns.rdatatype.TXT
        ]
