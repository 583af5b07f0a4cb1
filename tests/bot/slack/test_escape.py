"""Hostile lead text through every Slack surface, asserted on the exact JSON the fake Slack got.

Cards, thread replies, ephemeral answers, App Home, modals, `/lead` and `/leads` answers, SLA
reminders and every `text` fallback (push notifications render it as mrkdwn too).
The escaping rules themselves, on rendered blocks without Slack, are in test_blocks.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient

from bot.jobs.sla import slack_tick
from bot.runtime import Runtime
from storage.models import Lead
from tests.bot.conftest import dispatcher
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import (
    T0,
    choose,
    click,
    get,
    make_lead,
    picked,
    post_command,
    post_event,
    post_interaction,
    submit,
)

HOSTILE = (
    "<!channel> <!here> <!everyone> <@U123> <#C123> <!subteam^S123> <http://evil|bank.com> "
    "*bold* _x_ ~x~ `code` ``` &amp; Jos\u00e9 \u738b\u4f1f M\u00fcller \u202egnp.exe\u202c "
    "zero\u200bwidth\u200d\ufeff"
)
PINGS = ("<!", "<@U123", "<#", "<http", "<mailto")
INVISIBLE = "\u202e\u202c\u200b\u200d\ufeff"
# The only `<…>` allowed anywhere: our own mentions of the people who acted, and the config;
# our own times (`<!date^…>`) and links to our own cards.
OWN_TOKENS = re.compile(
    r"<@(U1|UBOSS)>|<!subteam\^SMANAGERS>"
    r"|<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>"
    r"|<https://leadbot-test\.slack\.com/archives/C[A-Z0-9]+/p\d+\|Open the card>"
)


def strings(node: Any) -> list[str]:
    """Every string inside a Web API call's arguments or a response body."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def assert_harmless(texts: list[str]) -> None:
    for text in texts:
        rest = OWN_TOKENS.sub("", text)
        assert "<" not in rest and ">" not in rest, text[:300]
        assert not any(ch in text for ch in INVISIBLE), text[:300]


def _shown(node: Any) -> Any:
    """What Slack renders: a text input's initial value is what the field holds, as typed (shown
    literally, never as mrkdwn), so the Edit modal shows the lead's fields unescaped."""
    if isinstance(node, dict):
        return {k: _shown(v) for k, v in node.items() if k != "initial_value"}
    if isinstance(node, list):
        return [_shown(v) for v in node]
    return node


def _initial(node: Any) -> list[str]:
    if isinstance(node, dict):
        here = [node["initial_value"]] if isinstance(node.get("initial_value"), str) else []
        return here + [s for v in node.values() for s in _initial(v)]
    if isinstance(node, list):
        return [s for v in node for s in _initial(v)]
    return []


def hostile(store: Any, email: str, **kw: Any) -> int:
    reasons = [
        {"rule": f"r{i}", "points": 100 - i, "reason": HOSTILE * 3, "evidence": HOSTILE * 3}
        for i in range(100)
    ]
    lead_id = make_lead(
        store, email, name=HOSTILE[:200], company=HOSTILE, reasons=reasons,
        text="\n".join([HOSTILE] * 80), **kw,
    )  # fmt: skip
    with store.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        lead.title, lead.forwarded_by, lead.product = HOSTILE, HOSTILE, HOSTILE[:100]
    return lead_id


def test_hostile_text_reaches_no_surface_raw(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    settings = slack_runtime.settings
    settings.slack_manager_group = "SMANAGERS"
    a = hostile(store, "a@evil.example")
    b = hostile(store, "b@evil.example")
    answers: list[Any] = []
    assert post_event(http, {"type": "app_home_opened", "user": "U1", "tab": "home"}, event_id="E1")
    dispatcher(slack_runtime).run_once()
    for command, text in (("/lead", HOSTILE), ("/lead", "evil.example"), ("/leads", "hot"),
                          ("/leads", HOSTILE), ("/leads", "unclaimed")):  # fmt: skip
        resp = post_command(http, command, text, user="U1")
        assert resp.status_code == 200
        answers.append(resp.json())
    post_interaction(http, click("lead_note", a, user="U1"))
    [opened] = fake_slack.wait_for("views.open")
    post_interaction(http, submit(opened.args["view"], HOSTILE, user="U1"))
    post_interaction(http, click("lead_claim", a, user="U1"))
    wait_until(lambda: get(store, a).owner == "U1")
    post_interaction(http, click("lead_claim", a, user="UBOSS"))  # too late: told who has it
    fake_slack.wait_for("chat.postEphemeral")
    for what in ("details", "reassign", "edit"):  # modals showing the lead's fields
        post_interaction(http, choose(what, a, user="U1"))
    fake_slack.wait_for("views.open", count=4)
    post_interaction(http, click("lead_lost", a, user="U1"))
    lost = fake_slack.wait_for("views.open", count=5)[-1]
    post_interaction(http, submit(lost.args["view"], HOSTILE, user="U1", state=picked("other")))
    wait_until(lambda: get(store, a).status == "lost")
    for minutes in (31, 61):  # b waits: a reminder, then an escalation to the managers
        slack_tick(slack_runtime, now=T0 + timedelta(minutes=minutes))
    for _ in range(3):
        dispatcher(slack_runtime).run_once(now=T0 + timedelta(minutes=62))
        dispatcher(slack_runtime).run_once()
    assert fake_slack.refused() == []  # nothing Slack would answer with invalid_blocks & co.
    methods = {c.method for c in fake_slack.calls}
    assert {"chat.postMessage", "chat.update", "views.open", "views.publish"} <= methods
    threads = [c for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(threads) >= 4  # note, lost, reminder, escalation
    sent = [s for c in fake_slack.calls for s in strings(_shown(c.args)) if c.method != "auth.test"]
    assert_harmless(sent + strings(answers))
    typed = [v for c in fake_slack.to("views.open") for v in _initial(c.args)]
    assert typed and not any(ch in v for v in typed for ch in INVISIBLE)
    assert any("&amp;amp;" in s for s in sent)  # `&amp;` typed by the lead shows as `&amp;`
    for c in fake_slack.to("chat.postMessage"):  # notification text: escaped and non-empty
        text = OWN_TOKENS.sub("", c.args["text"])
        assert text.strip() and not any(p in text for p in PINGS)
    assert b  # b's card went out too (two cards, both checked above)
    assert len([c for c in fake_slack.to("chat.postMessage") if not c.args.get("thread_ts")]) == 2
