"""The funnel and the lists behind `/leads hot|mine|unclaimed|stats`: aggregated in SQL.

Flow figures (announced, claimed, won, lost, time to claim) come from activities, not from the
lead's timestamps: `announce` resets `claimed_at` and `announced_at` on every cycle, so the lead
row only knows its latest round while the activity log keeps every one. A lead announced, sent
back to nurturing and announced again counts as two announcements; each claim answers exactly
one announcement (claim is only allowed from `announced`), so claim rate = claims / announcements.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.models import Activity, Lead, LeadStatus, parse_time, utcnow

LEAD: sa.Table = Lead.__table__  # type: ignore[attr-defined]
ACT: sa.Table = Activity.__table__  # type: ignore[attr-defined]

FLOW_KINDS = ("announced", "claimed", "won", "lost")


def funnel(
    session: Session, *, now: datetime | None = None, since: datetime | None = None
) -> dict[str, Any]:
    """Counts per status (now), and announcements, claims, time to claim, wins and losses in
    the window [since, now] (all history when `since` is None)."""
    now = now or utcnow()
    act = ACT
    by_status = {s.value: 0 for s in LeadStatus}
    counts = sa.select(LEAD.c.status, sa.func.count()).group_by(LEAD.c.status)
    for status, n in session.execute(counts):
        by_status[status] = n

    window = [act.c.kind.in_(FLOW_KINDS), act.c.occurred_at <= now]
    if since is not None:
        window.append(act.c.occurred_at >= since)
    flows = {k: 0 for k in FLOW_KINDS}
    stmt = sa.select(act.c.kind, sa.func.count()).where(*window).group_by(act.c.kind)
    for kind, n in session.execute(stmt):
        flows[kind] = n

    announced, claimed, won, lost = (flows[k] for k in FLOW_KINDS)
    return {
        "now": now.isoformat(),
        "since": since.isoformat() if since else None,
        "by_status": by_status,
        "total": sum(by_status.values()),
        "unclaimed": by_status[LeadStatus.ANNOUNCED.value],
        "announced": announced,
        "claimed": claimed,
        "claim_rate": round(claimed / announced, 4) if announced else None,
        "median_seconds_to_claim": _median_seconds_to_claim(session, now=now, since=since),
        "won": won,
        "lost": lost,
        "win_rate": round(won / (won + lost), 4) if won + lost else None,
    }


def _seconds(dialect: str, later: Any, earlier: Any) -> Any:
    if dialect == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    # SQLite keeps UTC datetimes as ISO text, which julianday() reads.
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def _previous(col: sa.Column[Any]) -> Any:
    """The value of `col` in the lead's previous announced/claimed activity."""
    return sa.func.lag(col).over(partition_by=ACT.c.lead_id, order_by=(ACT.c.occurred_at, ACT.c.id))


def _median_seconds_to_claim(
    session: Session, *, now: datetime, since: datetime | None
) -> float | None:
    """Median of (claim - the announcement it answered), over claims in the window.

    The announcement is the lead's previous announced/claimed activity (LAG over the lead's
    history); the median is the middle row(s) by row_number, which both SQLite (>= 3.25) and
    PostgreSQL compute without moving the durations to Python."""
    act = ACT
    pairs = (
        sa.select(
            act.c.kind,
            act.c.occurred_at,
            _previous(act.c.kind).label("prev_kind"),
            _previous(act.c.occurred_at).label("prev_at"),
        )
        .where(act.c.kind.in_(("announced", "claimed")), act.c.occurred_at <= now)
        .subquery()
    )
    dialect = session.get_bind().dialect.name
    claims = sa.select(_seconds(dialect, pairs.c.occurred_at, pairs.c.prev_at).label("s")).where(
        pairs.c.kind == "claimed", pairs.c.prev_kind == "announced"
    )
    if since is not None:
        claims = claims.where(pairs.c.occurred_at >= since)
    d = claims.subquery()
    ordered = sa.select(
        d.c.s,
        sa.func.row_number().over(order_by=d.c.s).label("rn"),
        sa.func.count().over().label("n"),
    ).subquery()
    # Integer division on both backends: rows (n+1)/2 and (n+2)/2 are the middle one or two.
    middle = sa.select(sa.func.avg(ordered.c.s)).where(
        ordered.c.rn.in_([(ordered.c.n + 1) // 2, (ordered.c.n + 2) // 2])
    )
    value = session.scalar(middle)
    return round(float(value), 3) if value is not None else None


def hot_unclaimed(session: Session, *, limit: int = 10) -> list[Lead]:
    """Announced leads waiting for a rep, hottest first (ix_lead_status_score)."""
    stmt = (
        sa.select(Lead)
        .where(LEAD.c.status == LeadStatus.ANNOUNCED.value)
        .order_by(LEAD.c.score.desc(), LEAD.c.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def owned_by(session: Session, user: str, *, limit: int = 20) -> list[Lead]:
    """Leads `user` has claimed and not closed yet, most recently claimed first
    (ix_lead_owner_claimed_at: 0.2 ms instead of 150 ms for a rep with 20,000 claims)."""
    stmt = (
        sa.select(Lead)
        .where(LEAD.c.status == LeadStatus.CLAIMED.value, LEAD.c.owner == user)
        .order_by(LEAD.c.claimed_at.desc(), LEAD.c.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


BREAKDOWN_LIMIT = 10


def by_rep(
    session: Session,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    limit: int = BREAKDOWN_LIMIT,
) -> list[dict[str, Any]]:
    """What each person did in [since, now]: claims, wins (and their deal values, as the leads
    hold them now), losses; the busiest first. A person is whoever made the change (the owner,
    or a manager closing for them)."""
    now = now or utcnow()
    kinds = ("claimed", "won", "lost")
    counts = [_count_of(kind) for kind in kinds]
    won_value = sa.func.sum(
        sa.case((ACT.c.kind == "won", sa.func.coalesce(LEAD.c.deal_value, 0.0)), else_=0.0)
    )
    stmt = (
        sa.select(ACT.c.actor, *counts, won_value)
        .select_from(ACT.join(LEAD, LEAD.c.id == ACT.c.lead_id))
        .where(*_window(kinds, now=now, since=since))
        .group_by(ACT.c.actor)
        .order_by(sa.desc(counts[0] + counts[1] + counts[2]), ACT.c.actor)
        .limit(limit)
    )
    return [
        {"rep": actor, "claimed": claimed, "won": won, "lost": lost, "won_value": float(value or 0)}
        for actor, claimed, won, lost, value in session.execute(stmt)
    ]


def by_source(
    session: Session,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    limit: int = BREAKDOWN_LIMIT,
) -> list[dict[str, Any]]:
    """Announcements, claims, wins and losses in [since, now] per lead source (the lead's first
    way in: `email`, `form:pricing`, `webhook:typeform`…), the most announced first."""
    now = now or utcnow()
    counts = [_count_of(kind) for kind in FLOW_KINDS]
    stmt = (
        sa.select(LEAD.c.source, *counts)
        .select_from(ACT.join(LEAD, LEAD.c.id == ACT.c.lead_id))
        .where(*_window(FLOW_KINDS, now=now, since=since))
        .group_by(LEAD.c.source)
        .order_by(sa.desc(counts[0]), sa.desc(counts[1]), LEAD.c.source)
        .limit(limit)
    )
    return [
        {"source": source or "unknown", **dict(zip(FLOW_KINDS, values, strict=True))}
        for source, *values in session.execute(stmt)
    ]


def _count_of(kind: str) -> Any:
    return sa.func.sum(sa.case((ACT.c.kind == kind, 1), else_=0))


def _window(kinds: tuple[str, ...], *, now: datetime, since: datetime | None) -> list[Any]:
    conds = [ACT.c.kind.in_(kinds), ACT.c.occurred_at <= now]
    if since is not None:
        conds.append(ACT.c.occurred_at >= since)
    return conds


# --- the funnel of a cohort: `leadbot stats`, `/leads stats`, the dashboard ---------------------
#
# A cohort is the leads *created* in [since, now]; each is followed through its stages as the
# activity log records them up to `now`: created -> announced -> claimed -> won (or lost). Counting
# a cohort, not the flows of the window, keeps conversions honest: a claim in this window of a
# lead announced last quarter does not inflate this window's claim rate.

BY = ("source", "campaign", "rep", "product")
STAGES = ("created", "announced", "claimed", "won")
# Time to first touch, leg by leg: created -> first announced, first announced -> first claimed,
# first claimed -> the first thing a person did on the lead after it.
SPEED = ("to_announce", "to_claim", "to_first_action")
# What counts as a rep acting on a claimed lead (by a person: actor other than leadbot).
REP_ACTION_KINDS = (
    "note_added",
    "call",
    "meeting",
    "demo",
    "edited",
    "won",
    "lost",
    "nurtured",
    "disqualified",
)
SYSTEM_ACTORS = ("leadbot", "import")


def group_key(by: str | None) -> Any:
    """The SQL expression a breakdown groups by (None: one group, the whole cohort). `source` is
    the lead's first way in, `campaign` the utm_campaign of its first touch, `rep` its owner,
    `product` the product line it is reported for. Raises ValueError for anything else."""
    if by is None:
        return None
    if by == "source":
        return sa.func.nullif(LEAD.c.source, "")
    if by == "campaign":
        return sa.func.nullif(LEAD.c.first_touch["utm_campaign"].as_string(), "")
    if by == "rep":
        return LEAD.c.owner
    if by == "product":
        return LEAD.c.product
    raise ValueError(f"unknown breakdown {by!r}: one of {', '.join(BY)}")


def _in_cohort(*, now: datetime, since: datetime | None) -> list[Any]:
    conds = [LEAD.c.created_at <= now]
    if since is not None:
        conds.append(LEAD.c.created_at >= since)
    return conds


def milestones(*, now: datetime, since: datetime | None, by: str | None = None) -> sa.CTE:
    """One row per lead of the cohort: lead_id, key (group_key(by), NULL without `by`),
    created_at, deal_value, the first announcement and claim, whether it was ever won or lost
    (up to `now`), and acted_at, the first rep action after the first claim; times as the
    database keeps them. A CTE, so a query that reads it several times computes it once.

    Driven by the activities' (kind, occurred_at) index: the flow activities are aggregated per
    lead first, then joined to the cohort's leads, rather than probing every lead's history."""
    flows = (
        sa.select(
            ACT.c.lead_id,
            sa.func.min(
                sa.case((ACT.c.kind == "announced", ACT.c.occurred_at), else_=sa.null())
            ).label("announced_at"),
            sa.func.min(
                sa.case((ACT.c.kind == "claimed", ACT.c.occurred_at), else_=sa.null())
            ).label("claimed_at"),
            sa.func.max(sa.case((ACT.c.kind == "won", 1), else_=0)).label("won"),
            sa.func.max(sa.case((ACT.c.kind == "lost", 1), else_=0)).label("lost"),
        )
        .where(ACT.c.kind.in_(FLOW_KINDS), ACT.c.occurred_at <= now)
        .group_by(ACT.c.lead_id)
        .cte("flows")
    )
    rep = ACT.alias("rep_act")
    acted = (
        sa.select(rep.c.lead_id, sa.func.min(rep.c.occurred_at).label("acted_at"))
        .select_from(
            rep.join(
                flows,
                sa.and_(flows.c.lead_id == rep.c.lead_id, rep.c.occurred_at >= flows.c.claimed_at),
            )
        )
        .where(
            rep.c.kind.in_(REP_ACTION_KINDS),
            rep.c.actor.not_in(SYSTEM_ACTORS),
            rep.c.occurred_at <= now,
        )
        .group_by(rep.c.lead_id)
        .cte("acted")
    )
    key = group_key(by)
    return (
        sa.select(
            LEAD.c.id.label("lead_id"),
            (key if key is not None else sa.null()).label("key"),
            LEAD.c.created_at,
            LEAD.c.deal_value,
            flows.c.announced_at,
            flows.c.claimed_at,
            sa.func.coalesce(flows.c.won, 0).label("won"),
            sa.func.coalesce(flows.c.lost, 0).label("lost"),
            acted.c.acted_at,
        )
        .select_from(
            LEAD.outerjoin(flows, flows.c.lead_id == LEAD.c.id).outerjoin(
                acted, acted.c.lead_id == LEAD.c.id
            )
        )
        .where(*_in_cohort(now=now, since=since))
        .cte("milestones")
    )


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def cohort(
    session: Session,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    by: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The funnel of the leads created in [since, now], one dict per group of `by` (one group,
    key None, without `by`), the largest first, at most `limit` groups:

    `{"key", "leads", "stages": {created, announced, claimed, won}, "lost", "conversion":
    {"announced": announced/created, "claimed": claimed/announced, "won": won/claimed},
    "win_rate": won/(won+lost), "won_value"}` (counts are leads, rates None when undefined;
    `won_value` sums the deal values of the won leads as they hold them now)."""
    groups = _cohort_counts(session, now=now or utcnow(), since=since, by=by)
    if by is None:
        return [groups[0] if groups else _empty_group()]
    return groups[:limit] if limit is not None else groups


def _cohort_counts(
    session: Session, *, now: datetime, since: datetime | None, by: str | None
) -> list[dict[str, Any]]:
    """Every group's counts in one aggregate over milestones(), the largest first."""
    m = milestones(now=now, since=since, by=by)
    won_value = sa.func.sum(
        sa.case((m.c.won == 1, sa.func.coalesce(m.c.deal_value, 0.0)), else_=0.0)
    )
    stmt = sa.select(
        m.c.key,
        sa.func.count(),
        sa.func.count(m.c.announced_at),
        sa.func.count(m.c.claimed_at),
        sa.func.sum(m.c.won),
        sa.func.sum(m.c.lost),
        won_value,
    )
    stmt = stmt.group_by(m.c.key)  # without `by` the key is NULL: one group
    rows = [
        _group(k, n, announced, claimed, int(won or 0), int(lost or 0), float(value or 0))
        for k, n, announced, claimed, won, lost, value in session.execute(stmt)
        if n
    ]
    rows.sort(key=lambda g: (-g["leads"], g["key"] is None, str(g["key"] or "")))
    return rows


def _group(
    key: Any, n: int, announced: int, claimed: int, won: int, lost: int, value: float
) -> dict[str, Any]:
    return {
        "key": key,
        "leads": n,
        "stages": {"created": n, "announced": announced, "claimed": claimed, "won": won},
        "lost": lost,
        "conversion": {
            "announced": _rate(announced, n),
            "claimed": _rate(claimed, announced),
            "won": _rate(won, claimed),
        },
        "win_rate": _rate(won, won + lost),
        "won_value": round(value, 2),
    }


def _total(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole cohort from its groups (they partition it: every lead is in exactly one)."""
    if not groups:
        return _empty_group()
    n = sum(g["leads"] for g in groups)
    stage = {k: sum(g["stages"][k] for g in groups) for k in ("announced", "claimed", "won")}
    lost = sum(g["lost"] for g in groups)
    value = sum(g["won_value"] for g in groups)
    return _group(None, n, stage["announced"], stage["claimed"], stage["won"], lost, value)


def _empty_group() -> dict[str, Any]:
    return _group(None, 0, 0, 0, 0, 0, 0.0)


def speed(
    session: Session,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    by: str | None = None,
) -> dict[Any, dict[str, dict[str, float | int | None]]]:
    """Time to first touch of the cohort, leg by leg (SPEED), per group key (None without `by`):
    `{key: {"to_announce": {"n", "median", "p90"}, …}}` in seconds. Median: the middle row or the
    mean of the middle two; p90: the nearest rank, ceil(0.9 n). Computed in the database with
    window functions (SQLite >= 3.25 and PostgreSQL alike); only one row per group and leg comes
    back."""
    return _speeds(session, now=now or utcnow(), since=since, by=by, total=False)


def _speeds(
    session: Session, *, now: datetime, since: datetime | None, by: str | None, total: bool
) -> dict[Any, dict[str, dict[str, float | int | None]]]:
    """speed() per group; with `total` also the whole cohort's, under the key TOTAL, from the
    same milestones (computed once)."""
    m = milestones(now=now, since=since, by=by)
    dialect = session.get_bind().dialect.name
    legs = [
        ("to_announce", m.c.announced_at, m.c.created_at),
        ("to_claim", m.c.claimed_at, m.c.announced_at),
        ("to_first_action", m.c.acted_at, m.c.claimed_at),
    ]
    scopes: list[tuple[Any, Any]] = [(sa.literal(0), m.c.key)]
    if total and by is not None:
        scopes.append((sa.literal(1), sa.null()))
    parts = [
        sa.select(
            scope.label("scope"),
            key.label("key"),
            sa.literal(name).label("leg"),
            # A clock a little off between writers must not give a negative duration.
            _clamp(_seconds(dialect, later, earlier)).label("s"),
        ).where(later.is_not(None), earlier.is_not(None))
        for scope, key in scopes
        for name, later, earlier in legs
    ]
    d = sa.union_all(*parts).subquery("durations")
    part = [d.c.scope, d.c.key, d.c.leg]
    ranked = sa.select(
        d.c.scope,
        d.c.key,
        d.c.leg,
        d.c.s,
        sa.func.row_number().over(partition_by=part, order_by=d.c.s).label("rn"),
        sa.func.count().over(partition_by=part).label("n"),
    ).subquery("ranked")
    r = ranked.c
    middle = r.rn.in_([(r.n + 1) // 2, (r.n + 2) // 2])
    p90 = r.rn == (r.n * 9 + 9) // 10
    stmt = sa.select(
        r.scope,
        r.key,
        r.leg,
        sa.func.max(r.n),
        sa.func.avg(sa.case((middle, r.s), else_=sa.null())),
        sa.func.max(sa.case((p90, r.s), else_=sa.null())),
    ).group_by(r.scope, r.key, r.leg)
    out: dict[Any, dict[str, dict[str, float | int | None]]] = {}
    for scope, k, leg, n, median, high in session.execute(stmt):
        key = TOTAL if scope == 1 or (total and by is None) else k
        out.setdefault(key, _no_speed())[leg] = {
            "n": int(n),
            "median": _secs(median),
            "p90": _secs(high),
        }
    return out


# speed(…, total=True)'s key for the whole cohort (None is a group: leads without a key).
TOTAL = "\x00total"


def _no_speed() -> dict[str, dict[str, float | int | None]]:
    return {leg: {"n": 0, "median": None, "p90": None} for leg in SPEED}


def _secs(value: Any) -> float | None:
    return round(float(value), 3) if value is not None else None


def _clamp(seconds: Any) -> Any:
    return sa.case((seconds < 0, 0.0), else_=seconds)


def lost_reasons(
    session: Session,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    by: str | None = None,
) -> dict[Any, dict[str, int]]:
    """Why the cohort's lost leads were lost: `{key: {reason code: leads}}`, the most frequent
    first; a loss without one of the configured reasons counts as "unspecified". Leads whose
    status is lost now."""
    now = now or utcnow()
    key = group_key(by)
    label = (key if key is not None else sa.null()).label("key")
    code = sa.func.coalesce(sa.func.nullif(LEAD.c.reason_code, ""), "unspecified").label("code")
    n = sa.func.count()
    stmt = (
        sa.select(label, code, n)
        .where(*_in_cohort(now=now, since=since), LEAD.c.status == LeadStatus.LOST.value)
        .group_by(*([key] if key is not None else []), code)
        .order_by(n.desc(), code)
    )
    out: dict[Any, dict[str, int]] = {}
    for k, reason, count in session.execute(stmt):
        out.setdefault(k, {})[reason] = count
    return out


def report(
    session: Session,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    by: str | None = None,
    limit: int | None = BREAKDOWN_LIMIT,
) -> dict[str, Any]:
    """Everything `leadbot stats`, `/leads stats` and the dashboard show, as JSON types:

    `{"now", "since", "by", "by_status" (all leads now), "flow" (funnel(): announcements, claims,
    wins and losses that happened in the window), "total" (the cohort: cohort()'s group with
    "speed" (speed()) and "lost_reasons" (lost_reasons()) added), "groups" (the same per group
    of `by`, the largest `limit` first; [] without `by`)}`.

    Five queries whatever `by`: the window's flows and statuses (three, funnel()), the cohort's
    counts per group (the total is their sum), both scopes of speed in one, the lost reasons.
    Run it in `Store.reading()`: on SQLite it then never holds the write lock."""
    now = now or utcnow()
    if by is not None:
        group_key(by)  # refuse an unknown breakdown before any query
    flow = funnel(session, now=now, since=since)
    groups = _cohort_counts(session, now=now, since=since, by=by)
    total = _total(groups)
    speeds = _speeds(session, now=now, since=since, by=by, total=True)
    reasons = lost_reasons(session, now=now, since=since, by=by)
    total["speed"] = speeds.get(TOTAL, _no_speed())
    total["lost_reasons"] = _merged(reasons) if by is not None else reasons.get(None, {})
    shown: list[dict[str, Any]] = []
    if by is not None:
        shown = groups[:limit] if limit is not None else groups
        for g in shown:
            g["speed"] = speeds.get(g["key"], _no_speed())
            g["lost_reasons"] = reasons.get(g["key"], {})
    return {
        "now": now.isoformat(),
        "since": since.isoformat() if since else None,
        "by": by,
        "by_status": flow["by_status"],
        "flow": {
            k: flow[k]
            for k in (
                "announced",
                "claimed",
                "claim_rate",
                "median_seconds_to_claim",
                "won",
                "lost",
                "win_rate",
            )
        },
        "total": total,
        "groups": shown,
    }


def _merged(per_group: dict[Any, dict[str, int]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reasons in per_group.values():
        for code, n in reasons.items():
            counts[code] = counts.get(code, 0) + n
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# --- the lead export: `leadbot leads export --csv` -------------------------------------------

EXPORT_COLUMNS = (
    "id",
    "email",
    "name",
    "company",
    "title",
    "phone",
    "country",
    "domain",
    "source",
    "latest_source",
    "campaign",
    "status",
    "reason_code",
    "owner",
    "temperature",
    "score",
    "fit_score",
    "engagement_score",
    "grade",
    "product",
    "product_scores",
    "deal_value",
    "created_at",
    "first_announced_at",
    "first_claimed_at",
    "first_action_at",
    "closed_at",
    "last_activity_at",
    "seconds_to_announce",
    "seconds_to_claim",
    "seconds_to_first_action",
)


def export_rows(
    session: Session,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    batch: int = 1000,
) -> Iterator[dict[str, Any]]:
    """Every lead created in [since, now] (all of them without `since`), by id, as a dict of
    EXPORT_COLUMNS (docs/funnel.md): its profile, stage, scores (product_scores as a dict), and
    its milestones with the seconds between them, as `cohort()` and `speed()` count them.
    Streamed `batch` rows at a time."""
    now = now or utcnow()
    m = milestones(now=now, since=since)
    campaign = sa.func.nullif(LEAD.c.first_touch["utm_campaign"].as_string(), "")
    stmt = (
        sa.select(
            LEAD.c.id,
            LEAD.c.email,
            LEAD.c.name,
            LEAD.c.company,
            LEAD.c.title,
            LEAD.c.phone,
            LEAD.c.country,
            LEAD.c.domain,
            LEAD.c.source,
            LEAD.c.latest_source,
            campaign.label("campaign"),
            LEAD.c.status,
            LEAD.c.reason_code,
            LEAD.c.owner,
            LEAD.c.temperature,
            LEAD.c.score,
            LEAD.c.fit_score,
            LEAD.c.engagement_score,
            LEAD.c.grade,
            LEAD.c.product,
            LEAD.c.product_scores,
            LEAD.c.deal_value,
            LEAD.c.created_at,
            m.c.announced_at.label("first_announced_at"),
            m.c.claimed_at.label("first_claimed_at"),
            m.c.acted_at.label("first_action_at"),
            LEAD.c.closed_at,
            LEAD.c.last_activity_at,
        )
        .select_from(m.join(LEAD, LEAD.c.id == m.c.lead_id))
        .order_by(LEAD.c.id)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(stmt):
        out = dict(row._mapping)
        created, announced = parse_time(out["created_at"]), parse_time(out["first_announced_at"])
        claimed, acted = parse_time(out["first_claimed_at"]), parse_time(out["first_action_at"])
        out["seconds_to_announce"] = _between(created, announced)
        out["seconds_to_claim"] = _between(announced, claimed)
        out["seconds_to_first_action"] = _between(claimed, acted)
        for name in ("created_at", "first_announced_at", "first_claimed_at", "first_action_at",
                     "closed_at", "last_activity_at"):  # fmt: skip
            value = parse_time(out[name])
            out[name] = value.isoformat() if value else None
        scores = out["product_scores"]
        out["product_scores"] = scores if isinstance(scores, dict) else {}
        yield out


def _between(earlier: datetime | None, later: datetime | None) -> float | None:
    if earlier is None or later is None:
        return None
    return round(max((later - earlier).total_seconds(), 0.0), 3)
