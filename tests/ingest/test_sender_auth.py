"""Who really sent it, through the real SMTP receiver: messages signed here with keys a local DNS
server publishes (with SPF and DMARC records), sent by smtplib, judged by the worker, scored."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from bot.jobs.rescore import rescore_all
from bot.runtime import Runtime, build_runtime
from ingest.smtp import InboxHandler, SMTPServerThread
from storage.db import Store
from storage.leads import activities_of, get_lead
from storage.models import Lead, OutboxMessage, RawInput
from tests.conftest import make_settings
from tests.ingest.dns_server import LocalDNS, Zone, local_dns, silent_dns

INBOX = "leads@leads.example.com"
SIGNED = [b"from", b"to", b"subject", b"date", b"message-id"]
BODY = (
    "Hi,\r\n\r\nCould you send pricing and a quote for 50 seats? We have budget this quarter"
    " and would like a demo next week.\r\n\r\nBest regards,\r\nJane Doe\r\nVP Engineering\r\n"
)


@dataclass(frozen=True)
class Key:
    private: bytes  # PEM, what dkim.sign takes
    public: str  # the DKIM record's p=

    def record(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.public}"


def make_key(bits: int = 2048) -> Key:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Key(private, base64.b64encode(der).decode("ascii"))


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    # acme's 4096-bit key does not fit a 512-byte UDP answer: it comes over TCP, as such keys do.
    return {"acme": make_key(4096), "bank": make_key(), "evil": make_key(), "ourco": make_key()}


def publish(zone: Zone, keys: dict[str, Key]) -> None:
    """The world of these tests: who may send from where, and what each domain asks of receivers."""
    # A company that does everything right, and sends from our client's address 127.0.0.1.
    zone.add("s1._domainkey.acme-robotics.example", "TXT", keys["acme"].record())
    zone.add("acme-robotics.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    zone.add("_dmarc.acme-robotics.example", "TXT", "v=DMARC1; p=reject; rua=mailto:d@acme.example")
    # A bank that signs, sends only from its own network and asks to reject the rest.
    zone.add("mail._domainkey.bank.example", "TXT", keys["bank"].record())
    zone.add("bank.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    zone.add("_dmarc.bank.example", "TXT", "v=DMARC1; p=reject")
    # Someone with a domain of their own: signed, SPF allows 127.0.0.1, no DMARC record.
    zone.add("k1._domainkey.evil.example", "TXT", keys["evil"].record())
    zone.add("evil.example", "TXT", "v=spf1 a -all")
    zone.add("evil.example", "A", "127.0.0.1")
    # A domain that signs with a selector whose key it never published; quarantine policy.
    zone.add("initech.example", "TXT", "v=spf1 ip4:198.51.100.7 ~all")
    zone.add("_dmarc.initech.example", "TXT", "v=DMARC1; p=quarantine; adkim=s")
    # A small company: SPF softfail for everyone else, no DKIM, no DMARC.
    zone.add("umbrella.example", "TXT", "v=spf1 ip4:203.0.113.9 ~all")
    # Our own domain, whose reps forward inquiries.
    zone.add("s1._domainkey.ourco.example", "TXT", keys["ourco"].record())
    zone.add("ourco.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    zone.add("_dmarc.ourco.example", "TXT", "v=DMARC1; p=reject")


@pytest.fixture
def dns(keys: dict[str, Key]) -> Iterator[LocalDNS]:
    with local_dns() as server:
        publish(server.zone, keys)
        yield server


def runtime_for(store: Store, **settings: Any) -> Runtime:
    return build_runtime(make_settings(store.url, **settings), store=store)


@pytest.fixture
def verifying(store: Store, dns: LocalDNS) -> Runtime:
    return runtime_for(store, dns_server=dns.address, dns_timeout_seconds=3)


@pytest.fixture
def smtp(verifying: Runtime) -> Iterator[SMTPServerThread]:
    with serving(verifying) as server:
        yield server


@contextmanager
def serving(runtime: Runtime) -> Iterator[SMTPServerThread]:
    handler = InboxHandler(runtime.pipeline, inbox_domains={"leads.example.com"})
    server = SMTPServerThread(handler, max_message_bytes=200_000).start()
    try:
        yield server
    finally:
        server.stop()


def message(
    sender: str,
    *,
    msgid: str,
    subject: str = "Pricing for 50 seats",
    body: str = BODY,
    extra: str = "",
) -> bytes:
    head = (
        f"{extra}From: {sender}\r\nTo: {INBOX}\r\nSubject: {subject}\r\n"
        f"Date: {formatdate()}\r\nMessage-ID: <{msgid}>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    return (head + body).encode("utf-8")


def sign(raw: bytes, *, selector: str, domain: str, key: Key) -> bytes:
    signature = dkim.sign(
        raw, selector.encode(), domain.encode(), key.private, include_headers=SIGNED
    )
    return signature + raw


def send(server: SMTPServerThread, raw: bytes, *, mail_from: str, helo: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname=helo, timeout=30) as client:
        client.sendmail(mail_from, [INBOX], raw)
    server.drain()


def stored(store: Store, email: str) -> tuple[Lead, dict[str, Any], dict[str, str], bool]:
    """The lead, its raw input's verdict, its email activity's fields, and whether announced."""
    with store.session() as s:
        lead = get_lead(s, email=email)
        raw = s.scalars(select(RawInput).where(RawInput.lead_id == lead.id)).one()
        fields = next(
            a.data["fields"] for a in activities_of(s, lead.id) if a.kind.startswith("email")
        )
        announced = s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.lead_id == lead.id, OutboxMessage.kind == "announce"
            )
        ).first()
        return lead, raw.envelope["auth"], fields, announced is not None


def rules_fired(lead: Lead) -> set[str]:
    return {str(r.get("rule")) for r in lead.reasons}


def test_a_valid_signature_from_an_allowed_client_is_verified_and_announced(
    smtp: SMTPServerThread, store: Store, keys: dict[str, Key], dns: LocalDNS
) -> None:
    raw = sign(
        message("Jane Doe <jane@acme-robotics.example>", msgid="ok@acme-robotics.example"),
        selector="s1",
        domain="acme-robotics.example",
        key=keys["acme"],
    )
    send(smtp, raw, mail_from="bounces@acme-robotics.example", helo="mail.acme-robotics.example")
    lead, verdict, fields, announced = stored(store, "jane@acme-robotics.example")
    assert verdict["dkim"] == [["acme-robotics.example", "pass"]]
    assert (verdict["spf"], verdict["spf_domain"]) == ("pass", "acme-robotics.example")
    assert (verdict["dmarc"], verdict["dmarc_policy"], verdict["verified"]) == (
        "pass",
        "reject",
        "yes",
    )
    assert fields["auth.dmarc"] == "pass" and fields["auth.verified"] == "yes"
    assert "auth.dmarc" not in lead.fields  # a fact of that one email, never of the person
    assert announced and lead.temperature == "hot"
    assert not rules_fired(lead) & {"dmarc-fail", "unverified-sender"}
    # The 4096-bit key's record does not fit a 512-byte UDP answer: it came over TCP.
    assert ("s1._domainkey.acme-robotics.example", "TXT", "tcp") in dns.zone.queries


def test_a_tampered_body_fails_dkim_and_dmarc(
    smtp: SMTPServerThread, store: Store, keys: dict[str, Key]
) -> None:
    raw = sign(
        message("Ann Banker <ann@bank.example>", msgid="t@bank.example"),
        selector="mail",
        domain="bank.example",
        key=keys["bank"],
    )
    tampered = raw.replace(b"50 seats", b"500 seats")
    send(smtp, tampered, mail_from="ann@bank.example", helo="mx.bank.example")
    lead, verdict, fields, announced = stored(store, "ann@bank.example")
    assert verdict["dkim"] == [["bank.example", "fail"]]
    assert verdict["spf"] == "fail"  # 127.0.0.1 is not in the bank's network
    assert (verdict["dmarc"], verdict["dmarc_policy"]) == ("fail", "reject")
    assert fields["auth.verified"] == "no"
    assert {"dmarc-fail", "dmarc-fail-enforced"} <= rules_fired(lead)
    assert not announced and lead.temperature != "hot"


def test_a_missing_key_is_a_permanent_error_and_strict_alignment_holds(
    smtp: SMTPServerThread, store: Store, keys: dict[str, Key]
) -> None:
    # Signed by a subdomain with a key nobody published; initech asks for strict DKIM alignment.
    raw = sign(
        message("Bill <bill@initech.example>", msgid="k@initech.example"),
        selector="gone",
        domain="mail.initech.example",
        key=keys["evil"],
    )
    send(smtp, raw, mail_from="bill@initech.example", helo="mail.initech.example")
    lead, verdict, fields, _ = stored(store, "bill@initech.example")
    assert verdict["dkim"] == [["mail.initech.example", "permerror"]]
    assert verdict["spf"] == "softfail"
    assert (verdict["dmarc"], verdict["dmarc_policy"]) == ("fail", "quarantine")
    assert fields["auth.dkim"] == "permerror"
    assert {"dmarc-fail", "dmarc-fail-enforced"} <= rules_fired(lead)


def test_spf_softfail_without_dmarc_is_an_unverified_sender(
    smtp: SMTPServerThread, store: Store
) -> None:
    raw = message("Rob <rob@umbrella.example>", msgid="s@umbrella.example")
    send(smtp, raw, mail_from="rob@umbrella.example", helo="mail.umbrella.example")
    lead, verdict, fields, _ = stored(store, "rob@umbrella.example")
    assert "dkim" not in verdict and verdict["spf"] == "softfail"
    assert (verdict["dmarc"], verdict["verified"]) == ("none", "no")
    assert fields["auth.dkim"] == "none" and fields["auth.spf"] == "softfail"
    assert "unverified-sender" in rules_fired(lead)
    assert "dmarc-fail" not in rules_fired(lead)


def test_a_forged_cfo_is_rejected_by_dmarc_and_never_announced(
    smtp: SMTPServerThread, store: Store, keys: dict[str, Key], verifying: Runtime
) -> None:
    """Signed, from an SPF-allowed client, but for the forger's own domain: nothing aligns."""
    body = BODY.replace("VP Engineering", "Chief Financial Officer")
    raw = sign(
        message("Ann Banker <cfo@bank.example>", msgid="f@evil.example", body=body),
        selector="k1",
        domain="evil.example",
        key=keys["evil"],
    )
    send(smtp, raw, mail_from="x@evil.example", helo="evil.example")
    lead, verdict, _, announced = stored(store, "cfo@bank.example")
    assert verdict["dkim"] == [["evil.example", "pass"]]
    assert (verdict["spf"], verdict["spf_domain"]) == ("pass", "evil.example")
    assert (verdict["dmarc"], verdict["dmarc_policy"], verdict["verified"]) == (
        "fail",
        "reject",
        "no",
    )
    assert {"dmarc-fail", "dmarc-fail-enforced"} <= rules_fired(lead)
    assert not announced and lead.temperature != "hot"
    # Rescoring reads the facts back from the stored activity (the batch path, not the intake's).
    for full in (True, False):
        rescore_all(verifying, full=full)
        again, _, _, _ = stored(store, "cfo@bank.example")
        assert abs(again.score - lead.score) < 0.5 and {"dmarc-fail"} <= rules_fired(again)


def test_a_reps_forward_is_judged_on_the_reps_message(
    smtp: SMTPServerThread, store: Store, keys: dict[str, Key]
) -> None:
    """The forwarded text names a bank whose DMARC would fail here; the rep's own message
    (signed by our domain, from our address) is what is judged, and it passes."""
    body = (
        "Hot one, please take it.\r\n\r\n---------- Forwarded message ---------\r\n"
        "From: Ann Banker <cfo@bank.example>\r\nDate: Mon, 2 Nov 2026 at 08:00\r\n"
        "Subject: Pricing for 50 seats\r\nTo: Sam <sam@ourco.example>\r\n\r\n" + BODY
    )
    raw = sign(
        message(
            "Sam Rep <sam@ourco.example>",
            msgid="fw@ourco.example",
            body=body,
            subject="Fwd: Pricing for 50 seats",
        ),
        selector="s1",
        domain="ourco.example",
        key=keys["ourco"],
    )
    send(smtp, raw, mail_from="sam@ourco.example", helo="mail.ourco.example")
    lead, verdict, fields, _ = stored(store, "cfo@bank.example")
    assert lead.forwarded_by == "sam@ourco.example"
    assert verdict["from_domain"] == "ourco.example"
    assert (verdict["dmarc"], verdict["verified"]) == ("pass", "yes")
    assert fields["auth.verified"] == "yes"
    assert not rules_fired(lead) & {"dmarc-fail", "unverified-sender"}


def test_a_verdict_is_made_once_at_receipt(
    smtp: SMTPServerThread, store: Store, verifying: Runtime, keys: dict[str, Key], dns: LocalDNS
) -> None:
    raw = sign(
        message("Jane Doe <jane@acme-robotics.example>", msgid="once@acme-robotics.example"),
        selector="s1",
        domain="acme-robotics.example",
        key=keys["acme"],
    )
    send(smtp, raw, mail_from="jane@acme-robotics.example", helo="mail.acme-robotics.example")
    asked = dns.asked()
    dns.zone.remove("s1._domainkey.acme-robotics.example")  # the key rotated away since
    with store.session() as s:
        raw_id = s.scalars(select(RawInput.id)).one()
        s.get(RawInput, raw_id).status = "failed"  # type: ignore[union-attr]
    assert verifying.pipeline.reprocess_failed() == 1
    assert dns.asked() == asked
    _, verdict, _, _ = stored(store, "jane@acme-robotics.example")
    assert verdict["dkim"] == [["acme-robotics.example", "pass"]]


def test_a_dns_server_that_never_answers_leaves_it_undecided(store: Store) -> None:
    with silent_dns() as address:
        runtime = runtime_for(store, dns_server=address, dns_timeout_seconds=0.3)
        with serving(runtime) as server:
            raw = message("Jane Doe <jane@acme-robotics.example>", msgid="to@acme-robotics.example")
            send(server, raw, mail_from="jane@acme-robotics.example", helo="mail.example")
    _, verdict, fields, announced = stored(store, "jane@acme-robotics.example")
    assert verdict["spf"] == "temperror" and verdict["dmarc"] == "temperror"
    assert verdict["verified"] == "unknown" and fields["auth.verified"] == "unknown"
    assert announced  # an outage of our DNS costs a lead nothing


TRUSTED = "mx.ourco.example"


def test_behind_our_mta_its_topmost_results_count_and_forged_ones_do_not(store: Store) -> None:
    runtime = runtime_for(store, trusted_authserv_id=TRUSTED)
    assert runtime.pipeline.sender_check is not None
    assert runtime.pipeline.sender_check.resolver is None  # no DNS at all in this mode
    ours = (
        f"Authentication-Results: {TRUSTED};\r\n\tdkim=none;\r\n"
        "\tspf=softfail smtp.mailfrom=bank.example;\r\n"
        "\tdmarc=fail (p=reject dis=none) header.from=bank.example\r\n"
        "X-Spam-Status: Yes, score=8.2 required=5.0 tests=FORGED_FROM autolearn=no\r\n"
    )
    forged = (  # what the sender wrote into the message: below ours, so never read
        f"Authentication-Results: {TRUSTED}; dkim=pass header.d=bank.example;"
        " spf=pass smtp.mailfrom=bank.example; dmarc=pass header.from=bank.example\r\n"
        "X-Spam-Status: No, score=-9.0\r\nX-Spamd-Result: default: False [-9.00 / 15.00]\r\n"
        "Authentication-Results: mx.google.com; dmarc=pass header.from=bank.example\r\n"
    )
    raw = message("Ann Banker <cfo@bank.example>", msgid="mta@bank.example", extra=ours + forged)
    with serving(runtime) as server:
        send(server, raw, mail_from="cfo@bank.example", helo="evil.example")
    lead, verdict, fields, announced = stored(store, "cfo@bank.example")
    assert verdict["by"] == TRUSTED
    assert (verdict["dmarc"], verdict["dmarc_policy"], verdict["spf"]) == (
        "fail",
        "reject",
        "softfail",
    )
    assert verdict["spam_score"] == 8.2 and verdict["spam_flagged"] is True
    assert fields["spam.score"] == "8.2" and fields["spam.flagged"] == "yes"
    assert {"dmarc-fail", "dmarc-fail-enforced", "spam"} <= rules_fired(lead)
    assert not announced


def test_behind_our_mta_a_message_without_its_results_is_not_judged(store: Store) -> None:
    runtime = runtime_for(store, trusted_authserv_id=TRUSTED)
    forged_only = "Authentication-Results: mx.elsewhere.example; dmarc=fail\r\nX-Spam-Flag: YES\r\n"
    raw = message(
        "Jane Doe <jane@acme-robotics.example>", msgid="n@acme.example", extra=forged_only
    )
    with serving(runtime) as server:
        send(server, raw, mail_from="jane@acme-robotics.example", helo="mail.example")
    _, verdict, fields, announced = stored(store, "jane@acme-robotics.example")
    assert verdict["by"] == TRUSTED and "dmarc" not in verdict and "spam_flagged" not in verdict
    assert fields == {"auth.verified": "unknown"}
    assert announced


def test_without_a_dns_server_or_a_trusted_mta_nothing_is_judged(store: Store) -> None:
    runtime = runtime_for(store)
    assert runtime.pipeline.sender_check is None
    raw = message("Jane Doe <jane@acme-robotics.example>", msgid="no@acme.example")
    with serving(runtime) as server:
        send(server, raw, mail_from="jane@acme-robotics.example", helo="mail.example")
    with store.session() as s:
        stored_raw = s.scalars(select(RawInput)).one()
        assert stored_raw.status == "processed" and "auth" not in stored_raw.envelope
