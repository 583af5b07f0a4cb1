"""SlackSender: outbox rows become Web API calls, rendered from the lead as it is at send time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import review
from bot.runtime import Runtime
from bot.slack import blocks
from bot.slack.access import Access
from bot.slack.attention import attention_blocks, review_message
from bot.slack.digest import DigestSender
from bot.slack.escape import is_user_id
from bot.slack.people import People
from bot.slack.routing import Route, parse_routes, pick_channel
from bot.slack.surfaces import home_view
from bot.slack.weekly import WEEKLY, WeeklySender
from ingest.auth import unverified
from ingest.mail.addresses import in_domains
from storage import raw as raw_store
from storage import slack as slack_store
from storage import slack_digest, stats
from storage.db import Store
from storage.errors import GiveUp, RetryLater
from storage.leads import get_lead
from storage.models import Lead, LeadStatus, OutboxMessage
from storage.privacy import REDACT

log = logging.getLogger("leadbot.slack.sender")
LAST = 2**62  # the place in a channel of a post that answers no input: after those that do
SLACK_SECONDS = Histogram(
    "leadbot_slack_call_seconds", "Slack Web API calls, by method", ["method"]
)
SLACK_ERRORS = Counter(
    "leadbot_slack_errors_total", "Slack Web API errors, by method and error", ["method", "error"]
)

# Errors no retry can fix: the message goes to the dead letters with the reason.
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "invalid_arguments",
        "user_not_found",
        "restricted_action",
        "account_inactive",
        "token_revoked",
        "invalid_auth",
        "not_authed",
        "missing_scope",
    }
)


def call_slack(
    fn: Callable[..., Any], *, none_on: frozenset[str] = frozenset(), **kwargs: Any
) -> Any:
    """One Web API call, its failures sorted into retry-later and give-up; None for an error in
    `none_on` (an answer, not a failure: `users_not_found`)."""
    method = getattr(fn, "__name__", "call")
    started = time.perf_counter()
    try:
        return fn(**kwargs)
    except SlackApiError as e:
        status = e.response.status_code
        error = str(e.response.get("error", "")) if isinstance(e.response.data, dict) else ""
        SLACK_ERRORS.labels(method=method, error=error or str(status)).inc()
        if error in none_on:
            return None
        if status == 429 or error == "ratelimited":
            retry_after = e.response.headers.get("Retry-After") or e.response.headers.get(
                "retry-after"
            )
            raise RetryLater(
                f"rate limited ({error or status})", delay=_seconds(retry_after)
            ) from e
        if status >= 500 or error in {
            "fatal_error",
            "internal_error",
            "service_unavailable",
            "request_timeout",
        }:
            raise RetryLater(f"Slack error {status} {error}".strip()) from e
        if error in PERMANENT:
            raise GiveUp(f"Slack refused: {error}") from e
        raise RetryLater(f"Slack error {status} {error}".strip()) from e
    except (SlackClientError, OSError) as e:  # connection refused, timeouts, TLS: Slack is down
        SLACK_ERRORS.labels(method=method, error="unreachable").inc()
        raise RetryLater(f"Slack unreachable: {type(e).__name__}: {e}") from e
    finally:
        SLACK_SECONDS.labels(method=method).observe(time.perf_counter() - started)


# Every post carries Slack message metadata naming its outbox row, so a retry whose earlier
# attempt may have reached Slack finds that post (conversations.history) instead of posting twice.
EVENT_TYPE = "leadbot_outbox"
LOOKUP_PAGE = 200  # messages per conversations.history page
LOOKUP_PAGES = 3  # the newest 600 messages of the channel (or thread) are searched, no more
# A search Slack refuses: the post goes out again (as before there was a search), with a warning.
CANNOT_LOOK = frozenset(
    {"channel_not_found", "not_in_channel", "missing_scope", "thread_not_found"}
)


def outbox_metadata(outbox_id: int, part: int = 0) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"outbox_id": outbox_id, "part": part}}


def _is_post_of(found: dict[str, Any], outbox_id: int, part: int) -> bool:
    meta = found.get("metadata")
    if not isinstance(meta, dict) or meta.get("event_type") != EVENT_TYPE:
        return False
    payload = meta.get("event_payload")
    if not isinstance(payload, dict):
        return False
    return payload.get("outbox_id") == outbox_id and payload.get("part", 0) == part


def _seconds(value: Any) -> float | None:
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None


class SlackSender:
    """The dispatcher's Sender for Slack: announce, thread, update_card, home, review."""

    def __init__(
        self,
        store: Store,
        client: WebClient,
        *,
        hot_channel: str | None,
        routes: list[Route],
        access: Access | None = None,
        internal_domains: frozenset[str] = frozenset(),
        burst: slack_digest.Burst | None = None,
        pages: bool = False,
        weekly: WeeklySender | None = None,
    ) -> None:
        self.store = store
        self.pages = pages  # cards get "Open lead page" (LEADBOT_PUBLIC_URL is set)
        self.weekly = weekly
        self.client = client
        self.hot_channel = hot_channel
        self.routes = routes
        self.access = access
        self.internal_domains = internal_domains
        self.people = People(client)
        # Bursts (LEADBOT_SLACK_BURST): further announcements of a busy channel in one digest.
        self.digests = DigestSender(
            store, client, burst=burst or slack_digest.Burst(0, 0), card=self._card, call=call_slack
        )

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> SlackSender:
        s = runtime.settings
        client = runtime.slack_client
        return cls(
            runtime.store,
            client,
            hot_channel=s.hot_channel,
            routes=parse_routes(s.slack_routes),
            access=Access(s, client),
            internal_domains=s.internal_domains,
            burst=slack_digest.Burst(s.slack_burst, s.slack_burst_minutes),
            pages=bool(s.public_url),
            weekly=WeeklySender(client, call=call_slack),
        )

    def lane(self, message: OutboxMessage) -> tuple[str, int] | None:
        """The channel a message posts into (paced by the dispatcher: about one post a second
        per channel) and its place there: the raw input it answers, so cards go out in the order
        inquiries were accepted. None for calls that post into no channel (card updates, App
        Home) or into several (review notices)."""
        if message.kind == "dm":
            user = str(message.payload.get("user") or "")
            return (user, message.id or 0) if is_user_id(user) else None
        if message.kind not in ("announce", "thread") or message.lead_id is None:
            return None
        with self.store.session() as session:
            lead = get_lead(session, lead_id=message.lead_id)
            if message.kind == "announce":
                channel = message.payload.get("channel") or pick_channel(
                    lead, self.routes, default=self.hot_channel
                )
                inquiry = slack_store.card_inquiry(session, message.lead_id)
            else:
                channel = lead.slack_channel or pick_channel(
                    lead, self.routes, default=self.hot_channel
                )
                activity_id = message.payload.get("activity_id")
                inquiry = (
                    slack_store.get_activity(session, int(activity_id)) if activity_id else None
                )
        if not channel:
            return None
        raw_id = getattr(inquiry, "raw_id", None)
        return str(channel), int(raw_id) if raw_id else LAST

    def _post(self, message: OutboxMessage, *, part: int = 0, **kwargs: Any) -> Any:
        """chat.postMessage tagged with the outbox id. A message tried before (its sender died
        inside the call, or the call failed after it may have reached Slack) is looked for first
        and, when found, that post is the answer: never a second copy."""
        assert message.id is not None
        if message.attempts > 0:
            found = self._earlier_post(
                message, part, channel=str(kwargs["channel"]), thread_ts=kwargs.get("thread_ts")
            )
            if found is not None:
                log.info("outbox %s was posted before (%s): not posting again", message.id, found)
                return found
        return call_slack(
            self.client.chat_postMessage, metadata=outbox_metadata(message.id, part), **kwargs
        )

    def _earlier_post(
        self, message: OutboxMessage, part: int, *, channel: str, thread_ts: str | None
    ) -> dict[str, Any] | None:
        """The post an earlier attempt of `message` made, among the newest messages there."""
        assert message.id is not None
        where = channel
        if is_user_id(channel):  # a DM: its conversation, not the user, has a history
            opened = call_slack(self.client.conversations_open, none_on=CANNOT_LOOK, users=channel)
            where = str(((opened or {}).get("channel") or {}).get("id") or channel)
        cursor = None
        for _ in range(LOOKUP_PAGES):
            args: dict[str, Any] = {"channel": where, "include_all_metadata": True}
            args.update(limit=LOOKUP_PAGE, cursor=cursor)
            if thread_ts:
                resp = call_slack(
                    self.client.conversations_replies, none_on=CANNOT_LOOK, ts=thread_ts, **args
                )
            else:
                resp = call_slack(self.client.conversations_history, none_on=CANNOT_LOOK, **args)
            if resp is None:
                log.warning(
                    "outbox %s: cannot search %s for an earlier post (add the channels:history"
                    " scope); posting it again",
                    message.id,
                    where,
                )
                return None
            for found in resp.get("messages") or []:
                if isinstance(found, dict) and _is_post_of(found, message.id, part):
                    return {"ok": True, "channel": where, "ts": str(found["ts"]), "found": True}
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not resp.get("has_more", True):
                break
        return None

    def send(self, message: OutboxMessage) -> dict[str, Any]:
        handlers = {
            "announce": self._announce,
            "update_card": self._update,
            "thread": self._thread,
            "home": self._home,
            "dm": self._dm,
            raw_store.NOTICE: self._review,
            REDACT: self._redact,
            slack_digest.DIGEST: self.digests.send,
            slack_digest.DIGEST_UPDATE: self.digests.rerender,
            WEEKLY: self._weekly,
        }
        handler = handlers.get(message.kind)
        if handler is None:
            raise GiveUp(f"unknown outbox kind {message.kind!r}")
        return handler(message)

    def _announce(self, message: OutboxMessage) -> dict[str, Any]:
        assert message.id is not None and message.lead_id is not None
        with self.store.session() as session:
            done = slack_store.post_of(session, message.id)
            if done is not None:  # posted before a crash or lost lease: never a second card
                return {"channel": done.channel, "ts": done.ts, "already": True}
            lead = get_lead(session, lead_id=message.lead_id)
            inquiry = slack_store.card_inquiry(session, message.lead_id)
        # Sent back to nurturing or disqualified before the card went out: no news for the channel.
        if lead.status in (LeadStatus.NURTURING, LeadStatus.DISQUALIFIED):
            return {"skipped": f"lead is {lead.status}"}
        channel = message.payload.get("channel") or pick_channel(
            lead, self.routes, default=self.hot_channel
        )
        if not channel:
            raise GiveUp(
                "no channel: set LEADBOT_HOT_CHANNEL or a matching LEADBOT_SLACK_ROUTES rule"
            )
        deferred = self.digests.defer(message, channel)  # a burst in that channel: one digest
        if deferred is not None:
            return deferred
        card = self._card(lead, inquiry)
        resp = self._post(
            message,
            channel=channel,
            unfurl_links=False,
            unfurl_media=False,
            **card,
        )
        ts, posted_in = str(resp["ts"]), str(resp.get("channel") or channel)
        with self.store.session() as session:
            slack_store.record_post(
                session, outbox_id=message.id, lead_id=message.lead_id, channel=posted_in, ts=ts
            )
            # A claim that landed while this card was on its way: bring the card up to date.
            fresh = get_lead(session, lead_id=message.lead_id)
            if fresh.status != lead.status or fresh.owner != lead.owner:
                slack_store.enqueue_lead_changed(session, fresh)
            slack_store.enqueue_home_refresh(session)  # a new unclaimed lead on every App Home
        if resp.get("found"):  # an earlier attempt's card, found by its metadata
            return {"channel": posted_in, "ts": ts, "found": True}
        return {"channel": posted_in, "ts": ts}

    def _card_of(self, message: OutboxMessage) -> tuple[Lead, Any] | None:
        """The lead and its latest inquiry, or None when it has no card and never will."""
        assert message.lead_id is not None
        with self.store.session() as session:
            lead = get_lead(session, lead_id=message.lead_id)
            if lead.slack_ts is None or lead.slack_channel is None:
                if slack_store.announce_pending(session, message.lead_id):
                    raise RetryLater(
                        "the announcement is not posted yet", delay=5, count_attempt=False
                    )
                return None
            return lead, slack_store.card_inquiry(session, message.lead_id)

    def _update(self, message: OutboxMessage) -> dict[str, Any]:
        found = self._card_of(message)
        if found is None:
            return self.digests.update(message)  # its card may be a line of a digest
        lead, inquiry = found
        card = self._card(lead, inquiry)
        call_slack(self.client.chat_update, channel=lead.slack_channel, ts=lead.slack_ts, **card)
        return {"channel": lead.slack_channel, "ts": lead.slack_ts}

    def _weekly(self, message: OutboxMessage) -> dict[str, Any]:
        if self.weekly is None:
            raise GiveUp("no weekly digest sender")
        return self.weekly.send(message)

    def _card(self, lead: Lead, inquiry: Any) -> blocks.Message:
        """The card with the ask it was announced for and the forwarding rep as a mention."""
        return blocks.lead_card(
            lead,
            ask=blocks.ask_of(inquiry),
            rep=self.people.user_id(lead.forwarded_by),
            unverified=_unverified(inquiry),
            page=self.pages,
        )

    def _dm(self, message: OutboxMessage) -> dict[str, Any]:
        """A direct message to a rep about one lead, with a link to its card once it has one."""
        assert message.lead_id is not None
        user = str(message.payload.get("user") or "")
        if not is_user_id(user):  # the last owner was the CLI or an import, not a person in Slack
            return {"skipped": f"not a Slack user: {user[:40]!r}"}
        with self.store.session() as session:
            lead = get_lead(session, lead_id=message.lead_id)
            # Its (new) card first: a lost lead announced again must link to the new one.
            if slack_store.announce_pending(session, message.lead_id):
                raise RetryLater("the card is not posted yet", delay=5, count_attempt=False)
            activity = None
            if message.payload.get("activity_id"):
                activity = slack_store.get_activity(session, int(message.payload["activity_id"]))
        link = None
        place = self.digests.place(lead)  # its card, or the digest line standing for it
        if place is not None:
            found = call_slack(
                self.client.chat_getPermalink,
                none_on=frozenset({"message_not_found", "channel_not_found"}),
                channel=place[0],
                message_ts=place[1],
            )
            link = str((found or {}).get("permalink") or "") or None
        reply = blocks.dm_message(message.payload, lead, link=link, detail=_excerpt(activity))
        resp = self._post(
            message,
            channel=user,
            unfurl_links=False,
            unfurl_media=False,
            **reply,
        )
        return {"user": user, "channel": str(resp.get("channel") or user), "ts": resp.get("ts")}

    def _thread(self, message: OutboxMessage) -> dict[str, Any]:
        found = self._card_of(message)
        if found is None:
            return self.digests.thread(message)  # its card may be a line of a digest
        lead, _ = found
        detail = None
        if message.payload.get("activity_id"):
            with self.store.session() as session:
                activity = slack_store.get_activity(session, int(message.payload["activity_id"]))
            detail = _excerpt(activity)
        reply = blocks.thread_message(message.payload, lead, detail=detail)
        resp = self._post(
            message,
            channel=lead.slack_channel,
            thread_ts=lead.slack_ts,
            reply_broadcast=bool(message.payload.get("broadcast")),  # an SLA reminder: seen
            unfurl_links=False,
            unfurl_media=False,
            **reply,
        )
        return {"channel": lead.slack_channel, "ts": str(resp.get("ts", ""))}

    def _home(self, message: OutboxMessage) -> dict[str, Any]:
        user = str(message.payload.get("user") or "")
        if not user:
            raise GiveUp("home refresh without a user")
        manager = self.access is not None and self.access.is_manager(user)
        with self.store.session() as session:
            mine = stats.owned_by(session, user, limit=20)
            waiting = stats.hot_unclaimed(session, limit=25)
            attention = raw_store.attention(session) if manager else None
            kept = [review.describe(r, h) for r, h in attention.oldest] if attention else []
        extra = attention_blocks(attention, kept) if attention is not None else None
        view = home_view(mine=mine, unclaimed=waiting, attention=extra)
        call_slack(self.client.views_publish, user_id=user, view=view)
        return {"user": user}

    def _redact(self, message: OutboxMessage) -> dict[str, Any]:
        """A forgotten person: each card says so and nothing more, the bot's replies go. Done
        again on a retry, harmlessly: an already deleted reply is `message_not_found`."""
        gone = frozenset({"message_not_found", "channel_not_found", "cant_update_message"})
        for channel, ts in message.payload.get("cards") or []:
            call_slack(
                self.client.chat_update, none_on=gone, channel=channel, ts=ts, **blocks.removed()
            )
        for channel, ts in message.payload.get("replies") or []:
            call_slack(self.client.chat_delete, none_on=gone, channel=channel, ts=ts)
        return {
            "redacted": len(message.payload.get("cards") or []),
            "deleted": len(message.payload.get("replies") or []),
        }

    def _review(self, message: OutboxMessage) -> dict[str, Any]:
        """Tell a person an input waits for them: the rep who forwarded it (found by their
        address), else each manager, else the hot channel."""
        raw_id = int(message.payload.get("raw_id") or 0)
        with self.store.session() as session:
            found = raw_store.kept_head(session, raw_id)
        if found is None:
            return {"skipped": f"input {raw_id} no longer waits"}
        kept = review.describe(*found)
        rep = self._rep_user(kept)
        if rep is not None:
            targets, to_rep = [rep], True
        else:
            targets = self.access.managers() if self.access is not None else []
            targets, to_rep = targets or ([self.hot_channel] if self.hot_channel else []), False
        if not targets:
            log.warning("input %s waits for review and nobody is configured to be told", raw_id)
            return {"skipped": "no rep, manager or hot channel to tell"}
        posted = []
        for part, target in enumerate(targets):
            resp = self._post(
                message,
                part=part,
                channel=target,
                unfurl_links=False,
                unfurl_media=False,
                **review_message(kept, to_rep=to_rep),
            )
            posted.append({"channel": str(resp.get("channel") or target), "ts": resp.get("ts")})
        return {"raw_id": raw_id, "to_rep": to_rep, "posted": posted}

    def _rep_user(self, kept: review.Kept) -> str | None:
        """The Slack user of the rep whose own-domain address the kept mail is from, if any."""
        email = kept.sender_email(self.internal_domains)
        if email is None or not in_domains(email.rpartition("@")[2], self.internal_domains):
            return None
        resp = call_slack(
            self.client.users_lookupByEmail, none_on=frozenset({"users_not_found"}), email=email
        )
        user = ((resp or {}).get("user") or {}).get("id")
        return str(user) if user else None


def _unverified(activity: Any) -> bool:
    return activity is not None and unverified((activity.data or {}).get("fields"))


def _excerpt(activity: Any) -> str | None:
    if activity is None:
        return None
    data = activity.data or {}
    return str(data.get("text") or activity.detail or data.get("subject") or "") or None
