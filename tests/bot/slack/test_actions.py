"""The card's other buttons and the modals they open: Add note, Won, Lost (with its reason), and
what Slack sends when a modal is closed, left empty or forged. Claim is in test_claim.py."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from bot.runtime import Runtime
from storage.leads import activities_of, notes_of
from tests.bot.conftest import dispatcher
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import (
    click,
    drain_listeners,
    get,
    make_lead,
    picked,
    post_interaction,
    sample,
    submit,
    typed_value,
)


def test_add_note_modal_stores_and_threads_the_note(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once()
    post_interaction(http, click("lead_note", lead_id, user="U1"))
    [opened] = fake_slack.wait_for("views.open")
    assert opened.args["trigger_id"] == "trigger-U1-lead_note"
    view = opened.args["view"]
    empty = post_interaction(http, submit(view, "", user="U1"))
    assert empty.json()["response_action"] == "errors"
    note = "Called them <!channel> — demo on Friday & pricing <http://evil.example|our site>"
    resp = post_interaction(http, submit(view, note, user="U1"))
    assert resp.status_code == 200
    wait_until(lambda: _notes(slack_runtime, lead_id))
    assert _notes(slack_runtime, lead_id) == [("U1", note)]
    dispatcher(slack_runtime).run_once()
    reply = fake_slack.to("chat.postMessage")[-1]
    assert reply.args["thread_ts"] == "1700000000.000001"
    text = json.dumps(reply.args["blocks"])
    assert (
        "&lt;!channel&gt;" in text and "&amp; pricing &lt;http://evil.example|our site&gt;" in text
    )
    assert "<!channel>" not in text and "<http" not in text


def _notes(runtime: Runtime, lead_id: int) -> list[tuple[str, str]]:
    with runtime.store.session() as s:
        return [(n.author, n.text) for n in notes_of(s, lead_id)]


def test_won_and_lost(http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    """Won is confirmed in a modal (with an optional value); Lost takes a reason from the list."""
    store = slack_runtime.store
    a, b = make_lead(store, "a@a.example"), make_lead(store, "b@b.example")
    dispatcher(slack_runtime).run_once()
    for lead_id in (a, b):
        post_interaction(http, click("lead_claim", lead_id, user="U1"))
    wait_until(lambda: get(store, a).owner == get(store, b).owner == "U1")
    post_interaction(http, click("lead_won", a, user="U1"))
    [won] = fake_slack.wait_for("views.open")
    assert won.args["view"]["callback_id"] == "lead_won_modal"
    assert get(store, a).status == "claimed"  # one click is not a win: the modal confirms it
    for bad in ("-5", "lots", "1e99", "nan"):
        resp = post_interaction(
            http, submit(won.args["view"], None, user="U1", state=typed_value(bad))
        )
        assert resp.json()["response_action"] == "errors" and "value_block" in resp.json()["errors"]
    post_interaction(http, submit(won.args["view"], "Annual, 120 seats", user="U1",
                                  state=typed_value("12500.5")))  # fmt: skip
    wait_until(lambda: get(store, a).status == "won")
    assert get(store, a).deal_value == 12500.5
    post_interaction(http, click("lead_lost", b, user="U1"))
    lost = fake_slack.wait_for("views.open", count=2)[1].args["view"]
    assert lost["callback_id"] == "lead_lost_modal"
    [menu] = [blk for blk in lost["blocks"] if blk.get("block_id") == "reason_block"]
    assert [o["value"] for o in menu["element"]["options"]] == [
        "price", "competitor", "timing", "no budget", "no response", "other"
    ]  # fmt: skip
    for state, where in (
        (picked("forged reason"), "reason_block"),
        (picked("other"), "text_block"),
    ):
        resp = post_interaction(http, submit(lost, None, user="U1", state=state))
        assert resp.json()["response_action"] == "errors" and where in resp.json()["errors"]
    post_interaction(
        http, submit(lost, "Went with RivalSoft", user="U1", state=picked("competitor"))
    )
    wait_until(lambda: get(store, b).status == "lost")
    assert (get(store, b).reason_code, get(store, b).status_reason) == (
        "competitor", "Went with RivalSoft"
    )  # fmt: skip
    dispatcher(slack_runtime).run_once()
    replies = [c.args["text"] for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    assert ":trophy: Won by <@U1> · *12,500.50*: Annual, 120 seats" in replies
    assert ":x: Lost by <@U1>: competitor: Went with RivalSoft" in replies
    cards = {c.args["ts"]: c.args for c in fake_slack.to("chat.update")}
    text = json.dumps(cards, ensure_ascii=False)
    assert "*Won* by <@U1> · *12,500.50*: Annual, 120 seats" in text
    assert "*Lost* by <@U1>: competitor: Went with RivalSoft" in text
    with store.session() as s:
        [w] = [x for x in activities_of(s, a) if x.kind == "won"]
        [lo] = [x for x in activities_of(s, b) if x.kind == "lost"]
    assert (w.actor, w.data, w.detail) == ("U1", {"value": 12500.5}, "Annual, 120 seats")
    assert (lo.actor, lo.data, lo.detail) == ("U1", {"code": "competitor"}, "Went with RivalSoft")


def test_views_closed_null_values_and_forged_metadata(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    post_interaction(http, click("lead_note", lead_id, user="U1"))
    [opened] = fake_slack.wait_for("views.open")
    view = opened.args["view"]
    for value in (None, "", "   \n "):  # Slack sends null for an empty plain_text_input
        resp = post_interaction(http, submit(view, value, user="U1"))
        assert resp.json()["response_action"] == "errors"
    closed = sample("view_closed__body.json")
    closed["view"] = {**closed["view"], "callback_id": view["callback_id"]}
    assert post_interaction(http, closed).status_code == 200
    for meta in ("not json", '{"lead_id": "99999999999999999999999"}', '{"lead_id": [1]}', "[]"):
        forged = submit({**view, "private_metadata": meta}, "note", user="U1")
        assert post_interaction(http, forged).status_code == 200
    bad = click("lead_claim", lead_id, user="U1")
    for value in ("abc", "-1", "1e3", "9" * 30, "\uff11\uff12"):
        bad["actions"][0]["value"] = value
        assert post_interaction(http, bad).status_code == 200
    drain_listeners(slack_runtime)
    assert get(store, lead_id).status == "announced"
