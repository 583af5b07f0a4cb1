"""Rule conditions on who really sent an email (`when.auth.*`, `when.spam.*`) and the defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.auth.verdict import (
    AUTH_FACTS,
    RESULTS,
    SPAM_FLAGGED,
    SPAM_SCORE,
    Signature,
    Verdict,
    facts,
)
from scoring import ActivityFacts, LeadFacts, load_rules
from scoring.conditions import AUTH_FACTS as RULE_FACTS
from scoring.conditions import SPAM_FLAGGED as RULE_FLAGGED
from scoring.conditions import SPAM_SCORE as RULE_SCORE
from storage.errors import ConfigError
from tests.scoring.conftest import NOW

LEAD = LeadFacts(email="cfo@bank.example", domain="bank.example", title="CFO")
FORGED = {"auth.dmarc": "fail", "auth.dmarc_policy": "reject", "auth.verified": "no"}


def email(**fields: str) -> ActivityFacts:
    return ActivityFacts("email_inquiry", NOW, text="pricing and a quote please", fields=fields)


def rule(name: str, when: str, points: int = -10) -> str:
    return f'\n[[rule]]\nname = "{name}"\npoints = {points}\nreason = "r"\n{when}\n'


def fired(path: Path, acts: list[ActivityFacts]) -> dict[str, str]:
    return {r.rule: r.evidence for r in load_rules(path).score(LEAD, acts, now=NOW).reasons}


def test_the_fact_names_are_the_ones_ingest_gives() -> None:
    assert set(AUTH_FACTS) == set(RULE_FACTS)
    assert all(RULE_FACTS[method] == values for method, values in RESULTS.items())
    assert (SPAM_SCORE, SPAM_FLAGGED) == (RULE_SCORE, RULE_FLAGGED)
    given = facts(
        Verdict(
            dkim=(Signature("bank.example", "fail"),),
            spf="softfail",
            spf_domain="bank.example",
            from_domain="bank.example",
            dmarc="fail",
            dmarc_policy="reject",
            spam_score=7.25,
            spam_flagged=True,
        ).to_json()
    )
    assert given == {
        "auth.dkim": "fail",
        "auth.spf": "softfail",
        "auth.dmarc": "fail",
        "auth.dmarc_policy": "reject",
        "auth.verified": "no",
        "spam.score": "7.25",
        "spam.flagged": "yes",
    }
    for name, value in given.items():  # every value ingest gives is one a rule may ask for
        if name.startswith("auth."):
            assert value in RULE_FACTS[name[5:]]


def test_auth_and_spam_conditions_pick_the_emails(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(
        rule("dmarc", 'when.auth.dmarc = "fail"')
        + rule("enforced", 'when.auth = {dmarc = "fail", dmarc_policy = ["reject", "quarantine"]}')
        + rule("unverified", 'when.auth.verified = "NO"')
        + rule("spam", "when.spam.score = {gte = 5}")
        + rule("flagged", "when.spam.flagged = true")
        + rule("clean", "when.spam.score = {lt = 5}", points=1)
    )
    got = fired(path, [email(**FORGED, **{"spam.score": "7.5", "spam.flagged": "yes"})])
    assert set(got) == {"dmarc", "enforced", "unverified", "spam", "flagged"}
    assert got["enforced"].endswith("auth.dmarc = fail; auth.dmarc_policy = reject")
    assert got["spam"].endswith("spam.score = 7.5")
    relaxed = {**FORGED, "auth.dmarc_policy": "none", "spam.score": "-1.2"}
    assert set(fired(path, [email(**relaxed)])) == {"dmarc", "unverified", "clean"}
    # Not judged (no DNS, no trusted MTA, a web form): no auth or spam rule holds either way.
    assert fired(path, [email()]) == {}
    assert fired(path, [email(**{"spam.score": "junk"})]) == {}


def test_the_facts_of_one_email_count_once_and_never_fade(
    write_rules: Callable[[str], Path],
) -> None:
    path = write_rules(rule("dmarc", 'when.auth.dmarc = "fail"', points=-25))
    old = ActivityFacts("email_inquiry", NOW.replace(year=2024), fields=FORGED)
    result = load_rules(path).score(LEAD, [old, email(**FORGED)], now=NOW)
    assert result.score == -25 and result.reasons[0].group == "negative"


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ('when.auth.dmark = "fail"', "'auth': unknown fact 'dmark'"),
        ('when.auth.dmarc = "failed"', "'auth.dmarc': 'failed' is not one of pass, fail"),
        ("when.auth = {}", "'auth' must be a table"),
        ('when.spam.score = "high"', "'score' must be a table like {gte = 5}"),
        ('when.spam.score = {gte = "5"}', "'gte' must be a number"),
        ('when.spam.flagged = "yes"', "'flagged' must be true or false"),
        ("when.spam.level = 3", "'spam': unknown key 'level'"),
    ],
)
def test_mistakes_are_refused_with_the_line(
    write_rules: Callable[[str], Path], when: str, message: str
) -> None:
    path = write_rules(rule("x", when))
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert str(info.value).startswith(f"{path} line 13: "), info.value
    assert message in str(info.value)


def test_the_fast_path_tells_verdicts_apart() -> None:
    """Plans are cached by content: the same words from a forged and a genuine sender differ."""
    rules = load_rules()
    genuine = [email(**{"auth.dmarc": "pass", "auth.verified": "yes"})]
    forged = [email(**FORGED)]
    batch = [(LEAD, genuine), (LEAD, forged), (LEAD, genuine)]
    fast = rules.score_batch(batch, now=NOW, reasons=False)
    full = [rules.score(lead, acts, now=NOW) for lead, acts in batch]
    assert [r.score for r in fast] == [r.score for r in full]
    assert fast[0].score - fast[1].score == 45  # dmarc-fail and dmarc-fail-enforced


def test_default_rules_keep_a_forged_cfo_out_of_the_hot_channel() -> None:
    rules = load_rules()
    genuine = rules.score(LEAD, [email(**{"auth.dmarc": "pass", "auth.verified": "yes"})], now=NOW)
    forged = rules.score(LEAD, [email(**FORGED)], now=NOW)
    spam = rules.score(LEAD, [email(**{"spam.score": "9.1"})], now=NOW)
    unverified = rules.score(
        LEAD, [email(**{"auth.dmarc": "none", "auth.verified": "no"})], now=NOW
    )
    assert genuine.score - forged.score == 45
    assert genuine.score - spam.score == 30
    assert genuine.score - unverified.score == 10
    assert {r.rule for r in forged.reasons} >= {"dmarc-fail", "dmarc-fail-enforced"}
    assert forged.temperature != "hot" and spam.temperature != "hot"
