"""The parts of sender verification one by one: our MTA's headers as real MTAs write them, DMARC
records, organisational domains, the verdict's rules, the DNS setting."""

from __future__ import annotations

import email
from email.policy import compat32

import pytest

from bot.config import Settings
from ingest.auth.checks import Received, check_spf, parse_dmarc_record
from ingest.auth.dns import DNSServer, Resolver, parse_dns_server
from ingest.auth.receipt import AuthOptions, SenderCheck, ToJudge, received_by_us
from ingest.auth.trusted import read_trusted, spam_verdict
from ingest.auth.verdict import Signature, Verdict, aligned, facts, load, organisational_domain
from tests.ingest.dns_server import local_dns

ID = "mx.ourco.example"


def headers(text: str) -> list[tuple[str, str]]:
    msg = email.message_from_string(text.strip() + "\n\nbody\n", policy=compat32)
    return [(k, str(v)) for k, v in msg.items()]


@pytest.mark.parametrize(
    ("text", "dmarc", "policy", "dkim", "spf"),
    [
        (  # OpenDMARC after OpenDKIM, Postfix
            f"Authentication-Results: {ID}; dmarc=fail (p=reject dis=none) header.from=bank.example",
            "fail",
            "reject",
            None,
            None,
        ),
        (  # rspamd: everything in one header, the policy in a comment after header.from
            f"Authentication-Results: {ID};\n\tdkim=none;\n\tspf=softfail (mx: 192.0.2.1 is"
            " neither permitted nor denied) smtp.mailfrom=x@bank.example;\n\tdmarc=fail"
            ' reason="No valid SPF, No valid DKIM" header.from=bank.example (policy=quarantine)',
            "fail",
            "quarantine",
            "none",
            "softfail",
        ),
        (  # Google, as the IMAP mailbox's MTA
            f"Authentication-Results: {ID};\n       dkim=pass header.i=@acme.example header.s=s1"
            " header.b=Abc;\n       spf=pass (google.com: domain of j@acme.example designates"
            " 1.2.3.4 as permitted sender) smtp.mailfrom=j@acme.example;\n       dmarc=pass"
            " (p=REJECT sp=REJECT dis=NONE) header.from=acme.example",
            "pass",
            "reject",
            "pass",
            "pass",
        ),
        (  # Microsoft 365: no policy given, only an action
            f"Authentication-Results: {ID}; spf=pass (sender IP is 1.2.3.4)"
            " smtp.mailfrom=acme.example; dkim=pass (signature was verified)"
            " header.d=acme.example;dmarc=pass action=none header.from=acme.example;compauth=pass",
            "pass",
            None,
            "pass",
            "pass",
        ),
        (f"Authentication-Results: {ID} 1; none", None, None, None, None),  # version, no results
        (  # Microsoft's "no DMARC record, would have passed", RFC 4408's "hardfail", junk
            f"Authentication-Results: {ID}; spf=hardfail smtp.mailfrom=bank.example;"
            " dkim=superb header.d=bank.example; dmarc=bestguesspass action=none",
            "none",
            None,
            None,
            "fail",
        ),
    ],
)
def test_trusted_results_as_mtas_write_them(
    text: str, dmarc: str | None, policy: str | None, dkim: str | None, spf: str | None
) -> None:
    v = read_trusted(headers(text), ID, from_domain="bank.example")
    assert v is not None and v.by == ID
    assert (v.dmarc, v.dmarc_policy, v.dkim_result, v.spf) == (dmarc, policy, dkim, spf)


def test_only_the_topmost_header_of_our_mta_counts() -> None:
    text = (
        "Authentication-Results: mx.google.com; dmarc=pass header.from=bank.example\n"
        "Authentication-Results: garbage ;;; ===\n"
        f"Authentication-Results: {ID.upper()}; dmarc=fail (p=reject) header.from=bank.example\n"
        "Received: from evil.example by mx.ourco.example\n"
        f"Authentication-Results: {ID}; dkim=pass header.d=bank.example; dmarc=pass\n"
    )
    v = read_trusted(headers(text), ID, from_domain="bank.example")
    assert v is not None and (v.dmarc, v.dkim) == ("fail", ())
    assert v.verified == "no"
    assert read_trusted(headers(text), "mx.elsewhere.example", from_domain=None) is None


def test_without_dmarc_alignment_of_a_trusted_pass_decides() -> None:
    aligned_dkim = f"Authentication-Results: {ID}; dkim=pass header.d=mail.acme.example; spf=fail"
    v = read_trusted(headers(aligned_dkim), ID, from_domain="acme.example")
    assert v is not None and v.verified == "yes"
    foreign = f"Authentication-Results: {ID}; dkim=pass header.d=esp.example; spf=softfail"
    v = read_trusted(headers(foreign), ID, from_domain="acme.example")
    assert v is not None and v.verified == "no"


@pytest.mark.parametrize(
    ("text", "score", "flagged"),
    [
        ("X-Spam-Status: Yes, score=7.3 required=5.0 tests=BAYES_99", 7.3, True),
        ("X-Spam-Status: No, score=-1.9 required=5.0\nX-Spam-Flag: NO", -1.9, False),
        ("X-Spamd-Result: default: True [15.00 / 15.00]; R_SPF_FAIL(1.00)[-all]", 15.0, True),
        ("X-Rspamd-Score: 4.25\nX-Spam: No", 4.25, False),
        ("X-Spam-Score: 1e309\nX-Spam-Status: Maybe", None, None),  # junk is no verdict
        # A forged "No" next to ours: the worst of them counts, so forging only hurts.
        ("X-Spam-Status: Yes, score=9.1\nX-Spam-Status: No, score=-50.0", 9.1, True),
        ("Subject: hello", None, None),
    ],
)
def test_spam_verdicts(text: str, score: float | None, flagged: bool | None) -> None:
    assert spam_verdict(headers(text)) == (score, flagged)


def test_spam_headers_count_only_with_our_results() -> None:
    spam = "X-Spam-Status: Yes, score=12.0\n"
    assert read_trusted(headers(spam), ID, from_domain=None) is None
    v = read_trusted(headers(f"Authentication-Results: {ID}; none\n{spam}"), ID, from_domain=None)
    assert v is not None and (v.spam_score, v.spam_flagged) == (12.0, True)
    assert facts(v.to_json())["spam.score"] == "12"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("v=DMARC1; p=reject", ("reject", "reject", False, False)),
        ("v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s", ("quarantine", "none", True, True)),
        ("v=DMARC1; rua=mailto:d@x.example", ("none", "none", False, False)),  # §6.6.3: no p
        ("v=DMARC1; p=bogus; sp=reject", ("none", "reject", False, False)),
        ("p=reject; v=DMARC1", None),  # v must come first
        ("v=spf1 -all", None),
        ("v=DMARC2; p=reject", None),
    ],
)
def test_dmarc_records(record: str, expected: tuple[str, str, bool, bool] | None) -> None:
    got = parse_dmarc_record(record)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert (got.p, got.sp, got.adkim_strict, got.aspf_strict) == expected


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("mail.acme.co.uk", "acme.co.uk"),
        ("a.b.acme.com", "acme.com"),
        ("acme.com", "acme.com"),
        ("eu.mail.acme-robotics.example", "acme-robotics.example"),  # unknown suffix: rule `*`
        ("co.uk", "co.uk"),
        ("ACME.COM.", "acme.com"),
    ],
)
def test_organisational_domains(domain: str, org: str) -> None:
    assert organisational_domain(domain) == org


def test_alignment() -> None:
    assert aligned("mail.acme.co.uk", "acme.co.uk", strict=False)
    assert not aligned("mail.acme.co.uk", "acme.co.uk", strict=True)
    assert not aligned("other.co.uk", "acme.co.uk", strict=False)  # a public suffix is no org
    assert not aligned(None, "acme.com", strict=False)
    # DKIM's d= and DNS spell a name in A-labels; the reader keeps the From domain in Unicode.
    assert aligned("mail.xn--r8jz45g.jp", "例え.jp", strict=False)
    assert aligned("XN--R8JZ45G.JP.", "例え.jp", strict=True)


def test_verdicts_round_trip_and_say_what_they_could_not_judge() -> None:
    v = Verdict(
        from_domain="acme.example",
        dkim=(Signature("esp.example", "pass"), Signature("acme.example", "fail")),
        spf=None,
        notes=("spf: no SMTP client address",),
    )
    assert load(v.to_json()) == v
    assert (v.dkim_result, v.verified) == ("pass", "unknown")  # SPF unjudged, DKIM unaligned
    assert facts(v.to_json()) == {"auth.dkim": "pass", "auth.verified": "unknown"}
    assert facts(None) == {} and facts({}) == {}


def test_only_the_smtp_receivers_own_client_is_judged_for_spf() -> None:
    envelope = {"peer": "192.0.2.1", "mail_from": "a@b.example", "helo": "h.example"}
    assert received_by_us("smtp", envelope) == Received("192.0.2.1", "a@b.example", "h.example")
    assert received_by_us("smtp", {**envelope, "lmtp": True}) == Received()
    assert received_by_us("imap", envelope) == Received()
    assert received_by_us("inbound:mailgun", envelope) == Received()


def test_spf_for_odd_clients_and_null_senders() -> None:
    with local_dns() as dns:
        dns.zone.add("mx.acme.example", "TXT", "v=spf1 ip4:192.0.2.1 -all")
        dns.zone.add("acme.example", "TXT", "v=spf1 ip6:2001:db8::/32 -all")
        resolver = Resolver(parse_dns_server(dns.address), timeout_s=2)
        bounce = Received("192.0.2.1", "", "mx.acme.example")  # null sender: HELO is judged
        assert check_spf(bounce, resolver) == ("pass", "mx.acme.example")
        mapped = Received("::ffff:192.0.2.1", "", "mx.acme.example")
        assert check_spf(mapped, resolver) == ("pass", "mx.acme.example")
        assert check_spf(Received("2001:db8::5", "j@acme.example", "x"), resolver)[0] == "pass"
        assert check_spf(Received("not-an-ip", "j@acme.example", "x"), resolver)[0] == "permerror"
        assert check_spf(Received("192.0.2.1", "", ""), resolver) == ("none", None)


def test_a_message_nobody_can_read_still_gets_a_verdict() -> None:
    with local_dns() as dns:
        check = SenderCheck(AuthOptions(dns_server=parse_dns_server(dns.address)))
        got = check.judge_many(
            [
                ToJudge(1, b"From: a@b.example\r\nDKIM-Signature: v=1; junk\r\n\r\nx", "pipe", {}),
                ToJudge(2, b"\xff\xfe not mail at all", "smtp", {"peer": "192.0.2.1"}),
            ]
        )
        check.close()
    assert got[1]["dkim"] == [["", "permerror"]] and got[1]["dmarc"] == "none"
    assert got[2]["verified"] == "unknown" and "from_domain" not in got[2]
    assert got[2]["notes"] == ["dmarc: no single From domain"]


@pytest.mark.parametrize(
    ("value", "server"),
    [
        ("127.0.0.1:5353", DNSServer("127.0.0.1", 5353)),
        ("192.0.2.53", DNSServer("192.0.2.53", 53)),
        ("[::1]:53", DNSServer("::1", 53)),
        ("::1", DNSServer("::1", 53)),
        ("System", DNSServer(None)),
    ],
)
def test_dns_server_setting(value: str, server: DNSServer) -> None:
    assert parse_dns_server(value) == server
    assert Settings(_env_file=None, dns_server=value).dns_server == str(server)  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["dns.example.com:53", "127.0.0.1:0", "127.0.0.1:99999", "[::1"])
def test_bad_dns_servers_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"expected|port"):
        Settings(_env_file=None, dns_server=value)  # type: ignore[call-arg]


def test_authserv_id_setting() -> None:
    assert Settings(
        _env_file=None, trusted_authserv_id=" mx.ourco.example "
    ).trusted_authserv_id == (  # type: ignore[call-arg]
        "mx.ourco.example"
    )
    with pytest.raises(ValueError, match="one token"):
        Settings(_env_file=None, trusted_authserv_id="mx.ourco.example; dmarc=pass")  # type: ignore[call-arg]
