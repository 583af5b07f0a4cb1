"""Forget, export and prune, as the CLI, Slack and the scheduler ask for them (docs/privacy.md)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from storage import privacy, tracking
from storage.db import Store
from storage.models import utcnow
from storage.privacy import Forgotten

log = logging.getLogger("leadbot.privacy")


def forget(store: Store, email: str, *, reason: str, by: str, suppress: bool) -> Forgotten:
    """Erase a person everywhere, then compact the database so no page still holds them."""
    with store.session() as session:
        done = privacy.forget_person(session, email, reason=reason, by=by, suppress=suppress)
    privacy.compact(store)
    # One line per request, without the address (that is the point): the lead id and who asked.
    log.warning(
        "forgot lead #%s on request by %s: %d activities scrubbed, %d notes and %d raw inputs"
        " deleted, %d Slack messages to redact",
        done.lead_id,
        by,
        done.activities,
        done.notes,
        done.raw_inputs,
        done.slack_messages,
    )
    return done


def export(store: Store, email: str) -> dict[str, Any]:
    with store.reading() as session:
        return privacy.export_person(session, email)


def prune(store: Store, *, days: float) -> tuple[int, int]:
    """Raw inputs past `days`: (attachments dropped, contents emptied)."""
    if days <= 0:
        return 0, 0
    with store.session() as session:
        stripped, emptied = privacy.prune_raw(session, days=days)
    if stripped or emptied:
        log.info(
            "pruned raw inputs: %d lost their attachments, %d their content", stripped, emptied
        )
    return stripped, emptied


def prune_visits(store: Store, *, days: float) -> int:
    """Anonymous visits nobody joined to a lead within `days` (LEADBOT_TRACKING_ANONYMOUS_DAYS)."""
    if days <= 0:
        return 0
    with store.session() as session:
        gone = tracking.prune_anonymous(session, before=utcnow() - timedelta(days=days))
    if gone:
        log.info("pruned %d anonymous visit(s) older than %g days", gone, days)
    return gone
