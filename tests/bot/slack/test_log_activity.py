"""The card's Log activity button: a rep logs a call, a meeting or a demo with a note; it is the
lead's activity by the rep, scored like the rest, and said in the card's thread."""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.slack import blocks
from bot.slack.activity_log import KIND_ACTION, KIND_BLOCK, NOTE_ACTION, NOTE_BLOCK, submitted
from bot.web import create_app
from ingest.tracking.events import TrackedEvent
from ingest.tracking.record import record_events
from storage.db import Store
from storage.models import Activity, OutboxMessage, utcnow
from storage.slack_jobs import enqueue_new_activity
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import click, drain_listeners, get, make_lead, post_interaction, sample


def log_submission(
    view: dict[str, Any], kind: str | None, note: str | None, *, user: str, view_id: str
) -> dict[str, Any]:
    """A view_submission of our Log activity modal, as Slack sends it (Slack's sample, our state)."""
    body = copy.deepcopy(sample("view_submission__body.json"))
    body["user"] = {"id": user, "username": user, "name": user, "team_id": "T111"}
    option = None if kind is None else {"text": {"type": "plain_text", "text": kind}, "value": kind}
    body["view"] = {
        **body["view"],
        **{k: view[k] for k in ("callback_id", "private_metadata", "blocks")},
        "id": view_id,
        "state": {
            "values": {
                KIND_BLOCK: {KIND_ACTION: {"type": "radio_buttons", "selected_option": option}},
                NOTE_BLOCK: {NOTE_ACTION: {"type": "plain_text_input", "value": note}},
            }
        },
    }
    return body


def activities(store: Store, lead_id: int, kind: str) -> list[Activity]:
    with store.session() as s:
        return list(
            s.exec(select(Activity).where(Activity.lead_id == lead_id, Activity.kind == kind))
        )


def open_modal(http: TestClient, fake_slack: FakeSlack, lead_id: int, user: str) -> dict[str, Any]:
    before = len(fake_slack.to("views.open"))
    post_interaction(http, click(blocks.LOG_ACTIVITY, lead_id, user=user))
    opened = fake_slack.wait_for("views.open", count=before + 1)[-1]
    view: dict[str, Any] = opened.args["view"]
    return view


def test_a_logged_call_is_the_reps_scored_activity_and_is_threaded(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    dispatcher(slack_runtime).run_once()  # the card
    # The button is on a claimed lead's card (test_blocks.py); a press on any card opens the modal.
    view = open_modal(http, fake_slack, lead_id, "U1")
    assert view["callback_id"] == "lead_log_activity_modal"
    assert [o["value"] for o in view["blocks"][1]["element"]["options"]] == [
        "call",
        "meeting",
        "demo",
    ]
    note = "Call went well <!channel>: they want pricing for 40 seats & a demo next quarter"
    resp = post_interaction(http, log_submission(view, "call", note, user="U1", view_id="V-call-1"))
    assert resp.status_code == 200 and resp.text == ""
    wait_until(lambda: activities(store, lead_id, "call"))
    [call] = activities(store, lead_id, "call")
    assert (call.actor, call.source, call.detail) == ("U1", "slack", note)
    lead = get(store, lead_id)
    rules = {r["rule"] for r in lead.reasons}
    # Scored like the rest: the call itself, and what was said in it (an inquiry-like note).
    assert {"other-activity", "buying-intent", "timeline"} <= rules
    assert lead.latest_source == "email"  # a rep's call is not a way in
    dispatcher(slack_runtime).run_once()
    [reply] = [c for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    text = json.dumps(reply.args["blocks"])
    assert f"Call logged by <@U1>, score now {lead.score:.0f}" in reply.args["text"]
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text and "&amp; a demo" in text
    [update] = fake_slack.to("chat.update")
    assert f"Score {lead.score:.0f}" in json.dumps(update.args["blocks"])  # the card moved too


def test_one_modal_is_one_activity_and_a_demo_or_meeting_too(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    view = open_modal(http, fake_slack, lead_id, "U1")
    post_interaction(
        http, log_submission(view, "demo", "Showed the dashboards", user="U1", view_id="V-d")
    )
    post_interaction(
        http, log_submission(view, "demo", "Showed the dashboards!", user="U1", view_id="V-d")
    )
    post_interaction(http, log_submission(view, "meeting", None, user="U2", view_id="V-m"))
    wait_until(lambda: activities(store, lead_id, "meeting"))
    drain_listeners(slack_runtime)
    assert [a.detail for a in activities(store, lead_id, "demo")] == ["Showed the dashboards"]
    [meeting] = activities(store, lead_id, "meeting")
    assert (meeting.actor, meeting.detail) == ("U2", "Meeting logged")


def test_what_is_not_a_call_meeting_or_demo_is_refused(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    view = open_modal(http, fake_slack, lead_id, "U1")
    for kind in (None, "won", "claimed", "form_submission"):
        resp = post_interaction(
            http, log_submission(view, kind, "x", user="U1", view_id=f"V-{kind}")
        )
        assert resp.json()["response_action"] == "errors", kind
    forged = log_submission(view, "call", "x", user="U1", view_id="V-forged")
    forged["view"]["private_metadata"] = '{"lead_id": "99999999999999999999"}'
    assert post_interaction(http, forged).status_code == 200
    drain_listeners(slack_runtime)
    with store.session() as s:
        kinds = {a.kind for a in s.exec(select(Activity))}
    assert not kinds & {"call", "won", "claimed", "form_submission"}


def test_people_not_allowed_cannot_log(store: Store, fake_slack: FakeSlack) -> None:
    runtime = build_runtime(
        slack_settings(store.url, fake_slack, slack_allowed_users="U1"), store=store
    )
    lead_id = make_lead(store)
    with TestClient(create_app(runtime)) as client:
        post_interaction(client, click(blocks.LOG_ACTIVITY, lead_id, user="USTRANGER"))
        [told] = fake_slack.wait_for("chat.postEphemeral")
        assert "not allowed" in told.args["text"] and not fake_slack.to("views.open")
        view = open_modal(client, fake_slack, lead_id, "U1")
        post_interaction(
            client, log_submission(view, "call", "hi", user="USTRANGER", view_id="V-s")
        )
        fake_slack.wait_for("chat.postEphemeral", count=2)
        drain_listeners(runtime)
    assert activities(store, lead_id, "call") == []


def test_the_modal_reads_back_what_was_submitted() -> None:
    state = {
        "state": {
            "values": {
                KIND_BLOCK: {KIND_ACTION: {"selected_option": {"value": "meeting"}}},
                NOTE_BLOCK: {NOTE_ACTION: {"value": "  agreed on a pilot \n"}},
            }
        }
    }
    assert submitted(state) == ("meeting", "agreed on a pilot")
    assert submitted({}) == (None, "")
    assert submitted(
        {"state": {"values": {KIND_BLOCK: {KIND_ACTION: {"selected_option": "x"}}}}}
    ) == (None, "")


def test_visits_move_the_card_but_only_downloads_get_a_thread_reply(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    with store.session() as s:
        enqueue_new_activity(s, now=utcnow())  # the cursor starts here
    events = [
        TrackedEvent(
            "page_visit",
            utcnow(),
            f"ev:t:{i}",
            "web:www",
            "Pricing",
            "pricing",
            email="jane@acme.example",
        )
        for i in range(5)
    ]
    events.append(
        TrackedEvent(
            "download", utcnow(), "ev:t:d", "web:www", "ROI guide", "roi", email="jane@acme.example"
        )
    )
    with store.session() as s:
        done = record_events(s, events, scorer=slack_runtime.scorer, now=utcnow())
    assert done.recorded == 6
    with store.session() as s:
        assert enqueue_new_activity(s, now=utcnow()) == 1  # the download only
        waiting = list(s.exec(select(OutboxMessage).where(OutboxMessage.lead_id == lead_id)))
    threads = [m.payload for m in waiting if m.kind == "thread"]
    assert [p["kind"] for p in threads] == ["download"]
    assert any(m.kind == "update_card" for m in waiting)
