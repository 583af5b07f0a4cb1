"""No floods (issue 12): past LEADBOT_SLACK_BURST announcements in LEADBOT_SLACK_BURST_MINUTES in
one channel, the rest go out as one digest, each lead claimable from it; then single cards
again. Through the real signed endpoint and the Web API stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from bot.jobs.sla import slack_tick
from bot.privacy import forget
from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage import lifecycle
from storage import slack as slack_store
from storage.db import Store
from storage.models import OutboxMessage, SlackDigestItem, SlackPost, utcnow
from storage.outbox import enqueue
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, block_kit_problem, wait_until
from tests.bot.slack_helpers import T0, click, get, make_lead, post_interaction


@pytest.fixture
def bursty(store: Store, fake_slack: FakeSlack) -> Runtime:
    settings = slack_settings(store.url, fake_slack, slack_burst=3, slack_burst_minutes=2)
    return build_runtime(settings, store=store)


@pytest.fixture
def client(bursty: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(bursty)) as c:
        yield c


def leads(store: Store, count: int, *, start: int = 0) -> list[int]:
    return [
        make_lead(store, f"lead{n}@burst{n}.example", name=f"Burst {n}", company=f"Co {n}", now=T0)
        for n in range(start, start + count)
    ]


def posts(fake: FakeSlack) -> list[dict[str, Any]]:
    """Top-level messages in the channel (not thread replies, not DMs)."""
    return [
        c.args
        for c in fake.to("chat.postMessage")
        if c.args.get("channel") == "CHOT" and not c.args.get("thread_ts")
    ]


def digest_later(runtime: Runtime) -> int:
    """Send what is due once the digest's few seconds of gathering are over."""
    return dispatcher(runtime).run_once(now=utcnow() + timedelta(seconds=10))


def claim_buttons(message: dict[str, Any]) -> list[str]:
    return [
        b["accessory"]["value"]
        for b in message["blocks"]
        if b.get("accessory", {}).get("action_id") == "lead_claim"
    ]


def test_a_burst_becomes_a_few_cards_and_one_claimable_digest(
    client: TestClient, bursty: Runtime, fake_slack: FakeSlack
) -> None:
    store = bursty.store
    ids = leads(store, 10)
    dispatcher(bursty).run_once()
    assert len(posts(fake_slack)) == 3  # the first three as cards; the rest wait a moment
    assert digest_later(bursty) >= 1
    cards, digest = posts(fake_slack)[:3], posts(fake_slack)[3]
    assert len(posts(fake_slack)) == 4  # ten announcements, four messages
    assert all(c["blocks"][0]["text"]["text"].startswith(":fire: Hot lead") for c in cards)
    assert digest["blocks"][0]["text"]["text"] == ":fire: 7 more hot leads"
    assert claim_buttons(digest) == [str(i) for i in ids[3:]]  # in the order they came
    assert "Burst 3" in digest["text"] and block_kit_problem(digest["blocks"], limit=50) is None
    with store.session() as s:
        results = s.scalars(sa.select(OutboxMessage.result).where(OutboxMessage.kind == "announce"))  # type: ignore[call-overload]
        assert sum(r == {"digest": "CHOT"} for r in results) == 7
    digest_ts = "1700000000.000004"

    # Claimed from the digest: its line says who has it, and it gets a card of its own.
    lead_id = ids[5]
    assert (
        post_interaction(client, click("lead_claim", lead_id, user="U1", ts=digest_ts)).status_code
        == 200
    )
    wait_until(lambda: get(store, lead_id).owner == "U1")
    dispatcher(bursty).run_once()
    [update] = [u for u in fake_slack.to("chat.update") if u.args["ts"] == digest_ts]
    line = next(b for b in update.args["blocks"] if b.get("block_id") == f"digest:{lead_id}")
    assert "Claimed by <@U1>: its card is below" in line["text"]["text"]
    assert "accessory" not in line
    assert str(lead_id) not in claim_buttons(update.args) and len(claim_buttons(update.args)) == 6
    own = posts(fake_slack)[4]
    assert own["blocks"][0]["text"]["text"].startswith(":raising_hand: Claimed: Burst 5")
    assert get(store, lead_id).slack_ts == "1700000000.000005"
    dispatcher(bursty).run_once()  # its later news go to its own card and thread
    with store.session() as s:
        lifecycle.win(s, lead_id=lead_id, actor="U1")
    with store.session() as s:
        slack_store.enqueue_lead_changed(s, get(store, lead_id))
    dispatcher(bursty).run_once()
    assert fake_slack.to("chat.update")[-1].args["ts"] == "1700000000.000005"

    # An SLA reminder of a lead whose card is a digest line: in the digest's thread, named.
    slack_tick(bursty, now=T0 + timedelta(minutes=30))
    dispatcher(bursty).run_once(now=T0 + timedelta(minutes=31))
    in_digest = [
        c.args for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts") == digest_ts
    ]
    assert len(in_digest) == 6  # the six still waiting; the claimed one needs no reminder
    assert in_digest[0]["blocks"][0]["elements"][0]["text"] == "*Burst 3* · Co 3"
    assert in_digest[0]["text"].startswith("*Burst 3* · Co 3: :alarm_clock: ")


def test_single_cards_again_once_the_channel_is_quiet(
    bursty: Runtime, fake_slack: FakeSlack
) -> None:
    store = bursty.store
    leads(store, 5)
    dispatcher(bursty).run_once()
    digest_later(bursty)
    assert len(posts(fake_slack)) == 4  # three cards, a digest of two
    with store.session() as s:  # the burst is three minutes old now
        s.execute(sa.update(SlackPost).values(created_at=utcnow() - timedelta(minutes=3)))
        s.execute(sa.update(SlackDigestItem).values(queued_at=utcnow() - timedelta(minutes=3)))
    [late] = leads(store, 1, start=5)
    dispatcher(bursty).run_once()
    assert posts(fake_slack)[-1]["blocks"][0]["text"]["text"].startswith(":fire: Hot lead: Burst 5")
    assert get(store, late).slack_ts is not None


def test_a_digest_of_one_is_a_card_and_a_long_burst_fills_several_digests(
    store: Store, fake_slack: FakeSlack
) -> None:
    runtime = build_runtime(slack_settings(store.url, fake_slack, slack_burst=1), store=store)
    first, second = leads(store, 2)
    dispatcher(runtime).run_once()
    digest_later(runtime)
    assert [p["blocks"][0]["text"]["text"].split(":", 2)[1] for p in posts(fake_slack)] == [
        "fire", "fire"
    ]  # fmt: skip
    assert get(store, second).slack_ts == "1700000000.000002"  # a card, recorded as one
    many = leads(store, 50, start=2)
    for _ in range(4):
        dispatcher(runtime).run_once()
        digest_later(runtime)
    digests = [p for p in posts(fake_slack) if "more hot lead" in p["blocks"][0]["text"]["text"]]
    assert [len(claim_buttons(d)) for d in digests] == [47, 3]
    assert [int(v) for d in digests for v in claim_buttons(d)] == many
    assert all(block_kit_problem(d["blocks"], limit=50) is None for d in digests)
    assert first


def test_a_lead_sent_back_before_its_digest_is_left_out_and_a_forgotten_one_removed(
    bursty: Runtime, fake_slack: FakeSlack
) -> None:
    store = bursty.store
    ids = leads(store, 6)
    dispatcher(bursty).run_once()
    with store.session() as s:
        lifecycle.nurture(s, lead_id=ids[3], actor="U1", reason="not now")
    digest_later(bursty)
    digest = posts(fake_slack)[3]
    assert claim_buttons(digest) == [str(ids[4]), str(ids[5])]
    forget(store, "lead4@burst4.example", reason="asked", by="UADMIN", suppress=False)
    dispatcher(bursty).run_once()
    [update] = [u for u in fake_slack.to("chat.update") if u.args["ts"] == "1700000000.000004"]
    shown = json.dumps(update.args["blocks"])
    assert "Burst 4" not in shown and "Burst 5" in shown and "1 more hot lead" in shown


def test_a_dm_about_a_digested_lead_waits_for_the_digest_and_links_to_it(
    bursty: Runtime, fake_slack: FakeSlack
) -> None:
    store = bursty.store
    ids = leads(store, 5)
    dispatcher(bursty).run_once()  # three cards; ids[3] and ids[4] wait for the digest
    with store.session() as s:
        enqueue(s, kind="dm", lead_id=ids[4], payload={"event": "assigned", "user": "U5",
                                                       "actor": "U1"})  # fmt: skip
    dispatcher(bursty).run_once()
    assert [c for c in fake_slack.to("chat.postMessage") if c.args["channel"] == "U5"] == []
    digest_later(bursty)  # the digest, then the DM (it was only put off, not failed)
    digest_later(bursty)
    [dm] = [c.args for c in fake_slack.to("chat.postMessage") if c.args["channel"] == "U5"]
    link = "https://leadbot-test.slack.com/archives/CHOT/p1700000000000004"
    assert f"<{link}|Open the card>" in dm["text"]
