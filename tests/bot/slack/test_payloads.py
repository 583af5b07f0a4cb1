"""Every stored Slack payload shape, signed, into the real `POST /slack/events`: a sensible answer."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from tests.bot.fake_slack import FakeSlack
from tests.bot.slack_helpers import SAMPLES, post_signed

FORM = "application/x-www-form-urlencoded"


def _body(path: Path) -> tuple[bytes, str]:
    text = path.read_text()
    if path.suffix == ".json":
        data = json.loads(text)
        if data.get("type") in ("event_callback", "url_verification"):
            return json.dumps(data).encode(), "application/json"
        return urlencode({"payload": json.dumps(data)}).encode(), FORM
    return text.strip().encode(), FORM


ALL = sorted(p.name for p in SAMPLES.iterdir() if p.is_file())
ALL += ["../slash_command_docs_example.form-urlencoded.txt"]


@pytest.mark.parametrize("name", ALL)
def test_every_sample_gets_an_answer(name: str, http: TestClient, fake_slack: FakeSlack) -> None:
    body, ctype = _body(SAMPLES / name)
    resp = post_signed(http, body, ctype)
    assert resp.status_code == 200, (name, resp.status_code, resp.text)
