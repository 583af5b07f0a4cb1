""" "Open lead page" from Slack: the card's button, the link each click makes for its user, and
the links in `/lead` answers; through the signed endpoint and the fake Web API, both backends."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.pages.access import read_token
from bot.runtime import Runtime, build_runtime
from bot.slack import blocks
from bot.web import create_app
from storage.db import Store
from storage.models import utcnow
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack
from tests.bot.slack_helpers import (
    click,
    drain_listeners,
    make_lead,
    post_command,
    post_interaction,
)

PUBLIC = "https://leads.example.com/lb"


@pytest.fixture
def rt(store: Store, fake_slack: FakeSlack) -> Runtime:
    settings = slack_settings(
        store.url,
        fake_slack,
        public_url=PUBLIC,
        slack_allowed_users="U0REP",
        slack_managers="U0BOSS",
    )
    return build_runtime(settings, store=store)


@pytest.fixture
def http(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as client:
        yield client


def opened(http: TestClient, url: str) -> Any:
    assert url.startswith(PUBLIC + "/pages/")
    return http.get(url.removeprefix(PUBLIC))


def test_the_card_has_the_button_and_each_click_gets_its_own_link(
    rt: Runtime, http: TestClient, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(rt.store)
    dispatcher(rt).run_once()
    card = fake_slack.to("chat.postMessage")[0].args
    actions = next(b for b in card["blocks"] if b["type"] == "actions")["elements"]
    assert [e.get("action_id") for e in actions][-2:] == [blocks.PAGE, blocks.MORE]
    assert "url" not in actions[-2]  # one card for a channel: no link of its own

    for user in ("U0REP", "U0BOSS"):
        assert post_interaction(http, click(blocks.PAGE, lead_id, user=user)).status_code == 200
    drain_listeners(rt)
    # Each click's listener runs after its acknowledgement, side by side: in either order.
    order = {f"trigger-U0REP-{blocks.PAGE}": 0, f"trigger-U0BOSS-{blocks.PAGE}": 1}
    views = sorted(
        (c.args for c in fake_slack.to("views.open")), key=lambda v: order[v["trigger_id"]]
    )
    assert [v["trigger_id"] for v in views] == list(order)
    rep, boss = (
        [e["url"] for e in v["view"]["blocks"][1]["elements"]] for v in views
    )  # the rep gets the lead page; the manager also the dashboard
    assert len(rep) == 1 and len(boss) == 2
    key = rt.secret.key()
    grant = read_token(key, rep[0].split("?t=")[1], now=utcnow())
    assert grant.person == "U0REP" and grant.scope == lead_id
    assert read_token(key, boss[1].split("?t=")[1], now=utcnow()).person == "U0BOSS"
    page = opened(http, rep[0])
    assert page.status_code == 200 and "Jane Doe" in page.text and "for U0REP" in page.text
    assert opened(http, rep[0].replace(f"/leads/{lead_id}?", "/dashboard?")).status_code == 403
    assert opened(http, boss[1]).status_code == 200
    assert fake_slack.refused() == []


def test_someone_not_allowed_gets_no_link(
    rt: Runtime, http: TestClient, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(rt.store)
    post_interaction(http, click(blocks.PAGE, lead_id, user="U0STRANGER"))
    drain_listeners(rt)
    assert fake_slack.to("views.open") == []
    told = fake_slack.to("chat.postEphemeral")
    assert (
        told and "not allowed" in told[0].args["text"] and "/pages/" not in json.dumps(told[0].args)
    )


def test_lead_answers_link_each_lead_page_for_the_asking_user(
    rt: Runtime, http: TestClient
) -> None:
    lead_id = make_lead(rt.store, name="Jane <b>Doe</b>")
    body = post_command(http, "/lead", "jane@acme.example", user="U0REP").json()
    text = json.dumps(body["blocks"])
    found = re.findall(r"<(https://[^|>]+)\|Open lead page>", text)
    assert len(found) == 1
    url = found[0].replace("\\u0026", "&")
    grant = read_token(rt.secret.key(), url.split("?t=")[1], now=utcnow())
    assert grant.person == "U0REP" and grant.scope == lead_id
    page = opened(http, url)
    assert page.status_code == 200 and "Jane &lt;b&gt;Doe&lt;/b&gt;" in page.text


def test_without_a_public_url_there_is_no_button_and_no_link(
    store: Store, fake_slack: FakeSlack
) -> None:
    rt = build_runtime(slack_settings(store.url, fake_slack), store=store)
    make_lead(store)
    dispatcher(rt).run_once()
    card = fake_slack.to("chat.postMessage")[0].args
    assert blocks.PAGE not in json.dumps(card["blocks"])
    with TestClient(create_app(rt)) as http:
        body = post_command(http, "/lead", "jane@acme.example", user="U1").json()
    assert "Open lead page" not in json.dumps(body)
