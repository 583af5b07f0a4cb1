"""Bursts: announcements past the channel's rate go out as one digest message, claimable line by
line; a lead claimed from its line gets its own card. Used by SlackSender (bot/slack/sender.py),
which owns every Web API call; see storage/slack_digest.py for how items are queued and taken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.slack import blocks
from bot.slack.escape import safe
from bot.slack.lists import DIGEST_LEADS, digest_message
from storage import slack as slack_store
from storage import slack_digest
from storage.db import Store
from storage.errors import GiveUp, RetryLater
from storage.leads import get_lead
from storage.models import Lead, LeadStatus, OutboxMessage, SlackDigestItem, utcnow
from storage.slack_digest import Burst

log = logging.getLogger("leadbot.slack.digest")
# A claimed lead is worked on its own card (Won, Lost, notes, its thread).
OWN_CARD = (LeadStatus.CLAIMED, LeadStatus.WON, LeadStatus.LOST)
NOT_SHOWN = (LeadStatus.NURTURING, LeadStatus.DISQUALIFIED)
Card = Callable[[Lead, Any], blocks.Message]


class DigestSender:
    def __init__(
        self,
        store: Store,
        client: WebClient,
        *,
        burst: Burst,
        card: Card,
        call: Callable[..., Any],
    ) -> None:
        self.store = store
        self.client = client
        self.burst = burst
        self.card = card  # the lead's card, as SlackSender renders it
        self.call = call  # SlackSender's call_slack: errors sorted into retry and give up

    def defer(self, message: OutboxMessage, channel: str) -> dict[str, Any] | None:
        """In a burst, the announcement waits for the channel's digest: its outbox result."""
        assert message.id is not None and message.lead_id is not None
        with self.store.session() as session:
            deferred = slack_digest.defer_if_burst(
                session,
                outbox_id=message.id,
                lead_id=message.lead_id,
                channel=channel,
                burst=self.burst,
            )
        return {"digest": channel} if deferred else None

    def send(self, message: OutboxMessage) -> dict[str, Any]:
        """Post the channel's waiting announcements as one message (one of them: as its card)."""
        assert message.id is not None
        channel = str(message.payload.get("channel") or "")
        if not channel:
            raise GiveUp("digest without a channel")
        with self.store.session() as session:
            items = slack_digest.take(
                session, digest_id=message.id, channel=channel, limit=DIGEST_LEADS
            )
            if items and items[0].ts:  # posted before a crash or a lost lease
                return {"channel": channel, "ts": items[0].ts, "already": True}
            leads = slack_digest.digest_leads(session, message.id)
            gone = [lead.id or 0 for lead in leads if lead.status in NOT_SHOWN]
            slack_digest.drop(session, digest_id=message.id, lead_ids=gone)
            shown = [
                (lead, self._ask(session, lead)) for lead in leads if lead.status not in NOT_SHOWN
            ]
            more = slack_digest.waiting(session, channel)
        if not shown:
            return {"skipped": "no lead of the digest is still hot"}
        if len(shown) == 1:  # a digest of one is a card
            lead, inquiry = shown[0]
            ts, posted_in = self._post(channel, self.card(lead, inquiry))
            with self.store.session() as session:
                slack_store.record_post(
                    session, outbox_id=message.id, lead_id=lead.id or 0, channel=posted_in, ts=ts
                )
                slack_digest.posted(session, digest_id=message.id, ts=ts)
                self._after_post(session, channel, [lead], more)
            return {"channel": posted_in, "ts": ts, "card": lead.id}
        ts, posted_in = self._post(channel, self._render([lead for lead, _ in shown]))
        with self.store.session() as session:
            slack_digest.posted(session, digest_id=message.id, ts=ts)
            self._after_post(session, channel, [lead for lead, _ in shown], more)
        return {"channel": posted_in, "ts": ts, "leads": [lead.id for lead, _ in shown]}

    def _after_post(self, session: Any, channel: str, leads: list[Lead], more: int) -> None:
        now = utcnow()
        if more:  # beyond one message's blocks: the next digest at once
            slack_digest.enqueue_digest(session, channel, due=now, now=now)
        for lead in leads:  # claimed while the digest waited: its own card now
            if lead.status != LeadStatus.ANNOUNCED and lead.id is not None:
                slack_store.enqueue_refresh(
                    session, kind="update_card", key=str(lead.id), lead_id=lead.id, now=now
                )
        slack_store.enqueue_home_refresh(session, now=now)

    def rerender(self, message: OutboxMessage) -> dict[str, Any]:
        """A posted digest rendered again from its leads as they are (someone was forgotten)."""
        digest_id = int(message.payload.get("digest_id") or 0)
        channel, ts = (
            str(message.payload.get("channel") or ""),
            str(message.payload.get("ts") or ""),
        )
        if not (digest_id and channel and ts):
            raise GiveUp("digest update without digest_id, channel and ts")
        self._update_digest(digest_id, channel, ts)
        return {"channel": channel, "ts": ts}

    def update(self, message: OutboxMessage) -> dict[str, Any]:
        """update_card of a lead whose card is a digest line: the line re-rendered, and a card
        of its own once it is claimed."""
        assert message.id is not None and message.lead_id is not None
        with self.store.session() as session:
            lead = get_lead(session, lead_id=message.lead_id)
            item = self._line_of(session, lead)
            if item is None:
                return {"skipped": "lead has no card"}
            inquiry = slack_store.card_inquiry(session, message.lead_id)
        assert item.digest_id is not None and item.ts
        self._update_digest(item.digest_id, item.channel, item.ts)
        if lead.status not in OWN_CARD:
            return {"channel": item.channel, "ts": item.ts, "digest": item.digest_id}
        ts, posted_in = self._post(item.channel, self.card(lead, inquiry))
        with self.store.session() as session:
            slack_store.record_post(
                session, outbox_id=message.id, lead_id=message.lead_id, channel=posted_in, ts=ts
            )
        return {"channel": posted_in, "ts": ts, "digest": item.digest_id, "card": True}

    def thread(self, message: OutboxMessage) -> dict[str, Any]:
        """News of a lead whose card is a digest line: in the digest's thread, naming the lead."""
        assert message.lead_id is not None
        with self.store.session() as session:
            lead = get_lead(session, lead_id=message.lead_id)
            item = self._line_of(session, lead)
            if item is None:
                return {"skipped": "lead has no card"}
            detail = None
            if message.payload.get("activity_id"):
                activity = slack_store.get_activity(session, int(message.payload["activity_id"]))
                detail = blocks.excerpt_of(activity)
        reply = blocks.thread_message(message.payload, lead, detail=detail)
        about = f"*{safe(blocks.who(lead), 200)}*" + (
            f" · {safe(lead.company, 200)}" if lead.company else ""
        )
        resp = self.call(
            self.client.chat_postMessage,
            channel=item.channel,
            thread_ts=item.ts,
            reply_broadcast=bool(message.payload.get("broadcast")),
            unfurl_links=False,
            unfurl_media=False,
            text=blocks.fit_text(f"{about}: {reply['text']}", blocks.FALLBACK_TEXT),
            blocks=[blocks.context(about), *reply["blocks"]],
        )
        return {"channel": item.channel, "ts": str(resp.get("ts", ""))}

    def place(self, lead: Lead) -> tuple[str, str] | None:
        """Where the lead is in Slack to link to: its card, else its posted digest line (a
        RetryLater while that digest is still to be sent)."""
        if lead.slack_channel and lead.slack_ts:
            return lead.slack_channel, lead.slack_ts
        with self.store.session() as session:
            item = self._line_of(session, lead)
        return (item.channel, item.ts) if item is not None and item.ts else None

    # --- helpers ---------------------------------------------------------------------------

    def _line_of(self, session: Any, lead: Lead) -> SlackDigestItem | None:
        """The lead's posted digest line; RetryLater while its digest is still to be sent."""
        item = slack_digest.current_item(session, lead)
        if item is None:
            return None
        if not item.ts:
            if slack_digest.pending(session, item):
                raise RetryLater("the digest is not posted yet", delay=5, count_attempt=False)
            return None
        return item

    def _ask(self, session: Any, lead: Lead) -> Any:
        return slack_store.card_inquiry(session, lead.id or 0)

    def _render(self, leads: list[Lead]) -> blocks.Message:
        with self.store.session() as session:
            lines = [(lead, _ask_text(self._ask(session, lead))) for lead in leads]
        return digest_message(
            lines, minutes=self.burst.minutes, burst=self.burst.size, today=utcnow().date()
        )

    def _update_digest(self, digest_id: int, channel: str, ts: str) -> None:
        with self.store.session() as session:
            leads = slack_digest.digest_leads(session, digest_id)
        message = self._render(leads) if leads else blocks.removed()
        self.call(self.client.chat_update, channel=channel, ts=ts, **message)

    def _post(self, channel: str, message: blocks.Message) -> tuple[str, str]:
        resp = self.call(
            self.client.chat_postMessage,
            channel=channel,
            unfurl_links=False,
            unfurl_media=False,
            **message,
        )
        return str(resp["ts"]), str(resp.get("channel") or channel)


def _ask_text(inquiry: Any) -> str:
    ask = blocks.ask_of(inquiry)
    if ask is None:
        return ""
    return ask.subject or ask.text
