"""`leadbot links make` and `leadbot events import`, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.cli import main
from bot.config import load_settings
from bot.runtime import build_runtime
from bot.web import create_app
from storage.db import Store
from storage.models import Activity, AnonymousEvent, Lead
from tests.bot.test_cli import message

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15"
)


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("LEADBOT_INTERNAL_DOMAINS", "ourco.example")
    return db_url


@pytest.fixture
def jane(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "jane.eml"
    path.write_bytes(message())
    assert main(["ingest", str(path)]) == 0
    capsys.readouterr()
    return "jane@acme-robotics.example"


def kinds(url: str, email: str) -> list[str]:
    store = Store(url)
    try:
        with store.session() as s:
            lead = s.exec(select(Lead).where(Lead.email == email)).one()
            rows = s.exec(select(Activity).where(Activity.lead_id == lead.id).order_by(Activity.id))  # type: ignore[arg-type]
            return [a.kind for a in rows if a.kind != "score_changed"]
    finally:
        store.dispose()


def test_links_make_prints_a_link_that_redirects_and_records_the_click(
    jane: str, env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADBOT_PUBLIC_URL", "https://leads.example.com/")
    code = main(
        [
            "links",
            "make",
            "--email",
            jane,
            "--url",
            "https://www.example.com/guide",
            "--campaign",
            "nurture-3",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    link = out.out.strip()
    assert link.startswith("https://leads.example.com/r/") and out.err == ""
    rt = build_runtime(load_settings())  # the same database, so the same kept secret
    with TestClient(create_app(rt)) as c:
        r = c.get(
            link.removeprefix("https://leads.example.com"),
            headers={"user-agent": BROWSER},
            follow_redirects=False,
        )
    rt.store.dispose()
    assert r.status_code == 302 and r.headers["location"] == "https://www.example.com/guide"
    assert kinds(env, jane) == ["email_inquiry", "email_click"]


def test_links_make_refuses_what_it_cannot_sign(
    jane: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["links", "make", "--email", "nobody@x.example", "--url", "https://a.example/"]) == 1
    )
    assert "no lead" in capsys.readouterr().err
    for url in (
        "javascript:alert(1)",
        "/relative",
        "https://user:pw@a.example/",
        "ftp://a.example/",
    ):
        assert main(["links", "make", "--email", jane, "--url", url]) == 65, url
        assert "--url" in capsys.readouterr().err
    assert (
        main(["links", "make", "--email", jane, "--url", "https://a.example/", "--campaign", "<b>"])
        == 65
    )
    assert (
        main(
            ["links", "make", "--email", jane, "--url", "https://a.example/", "--expires-days", "0"]
        )
        == 65
    )
    assert main(["links", "make", "--email", jane, "--url", "https://a.example/"]) == 0
    assert "LEADBOT_PUBLIC_URL is not set" in capsys.readouterr().err


CSV = """Email,Event Type,Timestamp,Page URL,Page Title,Campaign,Event ID
jane@acme-robotics.example,pageview,2026-11-20T10:00:00Z,https://www.example.com/pricing,Pricing,,h-1
jane@acme-robotics.example,Webinar Attended,2026-11-21T16:00:00Z,,Q3 roadmap,,h-2
jane@acme-robotics.example,clicked,1795262400,https://www.example.com/offer,,autumn,h-3
new.person@bigco.example,download,2026-11-22T09:30:00+01:00,https://www.example.com/guide.pdf,Guide,,h-4
,page_view,2026-11-22T09:30:00Z,https://www.example.com/,,,h-5
jane@acme-robotics.example,page_view,yesterday-ish,https://www.example.com/,,,h-6
jane@acme-robotics.example,trial_started,2026-11-23T08:00:00Z,,,,h-7
"""


def test_events_import_loads_other_tools_events_once(
    jane: str, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    assert main(["events", "import", str(path), "--source", "hubspot"]) == 0
    out = capsys.readouterr()
    assert "7 row(s): 5 recorded, 0 already recorded" in out.out
    assert (
        "row 6: unidentified" in out.err
        and "row 7: occurred_at 'yesterday-ish' unreadable" in out.err
    )
    assert kinds(env, jane) == ["email_inquiry", "page_visit", "email_click", "webinar", "event"]
    assert kinds(env, "new.person@bigco.example") == ["download"]
    store = Store(env)
    with store.session() as s:
        lead = s.exec(select(Lead).where(Lead.email == "new.person@bigco.example")).one()
        trial = s.exec(select(Activity).where(Activity.kind == "event")).one()
    store.dispose()
    assert lead.source == "import:hubspot" and lead.first_touch is not None
    assert trial.detail == "trial_started"
    # Importing the same file again records nothing new.
    assert main(["events", "import", str(path), "--source", "hubspot"]) == 0
    assert "0 recorded, 5 already recorded" in capsys.readouterr().out


def test_events_import_keeps_anonymous_rows_and_refuses_bad_files(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "anon.csv"
    path.write_text(
        "visitor_id,type,occurred_at,url\nabcdefgh1234,page_view,2026-11-20T10:00:00Z,https://a.example/\n"
    )
    assert main(["events", "import", str(path)]) == 0
    assert "1 kept for anonymous visitors" in capsys.readouterr().out
    store = Store(env)
    with store.session() as s:
        assert len(s.exec(select(AnonymousEvent)).all()) == 1
    store.dispose()
    bad = tmp_path / "bad.csv"
    bad.write_text("name,when\nx,y\n")
    assert main(["events", "import", str(bad)]) == 65
    err = capsys.readouterr().err
    assert "no column email (or visitor_id), type" in err
    all_bad = tmp_path / "all-bad.csv"
    all_bad.write_text("email,type,occurred_at\nnot-an-address,page_view,2026-01-01\n")
    assert main(["events", "import", str(all_bad)]) == 65
    assert main(["events", "import", str(tmp_path / "missing.csv")]) == 65
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"email,type\n\xff\xfe\x00bad")
    assert main(["events", "import", str(binary)]) == 65


def test_doctor_reports_the_sites_and_a_broken_sites_table(
    env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADBOT_TRACKING_KEYS", "www=wk_12345678")
    main(["doctor", "--no-ports"])
    out = capsys.readouterr().out
    assert (
        "site(s) www; links signed with a key kept in the database; LEADBOT_PUBLIC_URL unset" in out
    )
    forms = tmp_path / "forms.toml"
    forms.write_text("[sites.www]\nallowed_origins = 5\n")
    monkeypatch.setenv("LEADBOT_FORMS", str(forms))
    assert main(["doctor", "--no-ports"]) == 78
    assert "allowed_origins must be a list of strings" in capsys.readouterr().out
    # Every other command refuses to start on it too, naming the setting.
    assert main(["leads", "list"]) == 78
    assert "sites.www.allowed_origins" in capsys.readouterr().err
