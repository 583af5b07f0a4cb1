"""Our own edge MTA's word on a message: its `Authentication-Results` and its spam verdict.

Pure: header fields in, a Verdict out. Anyone can write these headers into a message, so only the
topmost `Authentication-Results` carrying our MTA's authserv-id is read (RFC 8601 §5: the MTA
adds it on top, and lower ones with its id were written by someone else), and spam headers only
of a message that has it. Several spam headers (one forged below ours) count at their worst, so
a forgery can only make its own message look worse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import authres

from ingest.auth.verdict import POLICIES, Signature, Verdict, result_of

AUTH_RESULTS = "authentication-results"
# SpamAssassin: X-Spam-Status "Yes, score=7.3 required=5.0 …", X-Spam-Flag, X-Spam-Score;
# rspamd: X-Spamd-Result "default: True [15.00 / 15.00]; …", X-Rspamd-Score, X-Spam (milter).
SPAM_HEADERS = frozenset(
    {"x-spam-status", "x-spam-flag", "x-spam-score", "x-spamd-result", "x-rspamd-score", "x-spam"}
)
MAX_SCORE = 1000.0  # beyond any filter's scale: a bigger number is junk, not a verdict
_NUMBER = re.compile(r"[-+]?\d{1,6}(?:\.\d{1,6})?")
_SCORE = re.compile(r"\bscore\s*=\s*([-+]?\d{1,6}(?:\.\d{1,6})?)", re.IGNORECASE)
_BRACKET = re.compile(r"\[\s*([-+]?\d{1,6}(?:\.\d{1,6})?)\s*/")
_FOLD = re.compile(r"\r?\n[ \t]*")
# The policy a DMARC result names in its comment or a policy property: OpenDMARC and Google
# "(p=reject dis=none)", rspamd "(policy=reject)", "policy.dmarc=reject".
_DMARC_RESULT = re.compile(r"(?:^|;)\s*dmarc\s*=\s*[a-z]+([^;]*)", re.IGNORECASE)
_POLICY = re.compile(
    r"(?<![\w.-])(?:p|policy(?:\.dmarc|\.published-domain-policy)?)\s*=\s*([a-z]+)", re.IGNORECASE
)
MAX_VALUE = 8000  # characters of one header value that are parsed


def read_trusted(
    headers: Sequence[tuple[str, str]], authserv_id: str, *, from_domain: str | None
) -> Verdict | None:
    """The verdict of the MTA `authserv_id` from a message's header fields (in message order),
    or None when no `Authentication-Results` of that MTA is there."""
    wanted = authserv_id.strip().lower()
    found: authres.AuthenticationResultsHeader | None = None
    raw_value = ""
    for name, value in headers:
        if name.strip().lower() != AUTH_RESULTS:
            continue
        value = _FOLD.sub(" ", str(value))[:MAX_VALUE]
        parsed = _parse(value)
        if parsed is not None and str(parsed.authserv_id or "").strip().lower() == wanted:
            found, raw_value = parsed, value
            break
    if found is None:
        return None
    return _verdict(found, raw_value, authserv_id.strip(), from_domain, headers)


def _parse(value: str) -> authres.AuthenticationResultsHeader | None:
    try:
        return authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {value}")
    except Exception:  # authres raises more than AuthResError on junk; unreadable is not ours
        return None


def _verdict(
    parsed: authres.AuthenticationResultsHeader,
    value: str,
    by: str,
    from_domain: str | None,
    headers: Sequence[tuple[str, str]],
) -> Verdict:
    signatures: list[Signature] = []
    spf: str | None = None
    spf_domain: str | None = None
    dmarc: str | None = None
    for r in parsed.results:
        method = str(getattr(r, "method", "") or "").lower()
        result = result_of(method, str(getattr(r, "result", "") or ""))
        if result is None:
            continue  # a method or result no rule can ask for
        props = {
            f"{p.type}.{p.name}".lower(): str(p.value or "") for p in getattr(r, "properties", [])
        }
        if method == "dkim":
            domain = props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
            signatures.append(Signature(domain.lower().rstrip("."), result))
        elif method == "spf" and spf is None:
            spf = result
            identity = props.get("smtp.mailfrom") or props.get("smtp.helo") or ""
            spf_domain = identity.rpartition("@")[2].lower().rstrip(".") or None
        elif method == "dmarc" and dmarc is None:
            dmarc = result
    score, flagged = spam_verdict(headers)
    return Verdict(
        by=by,
        from_domain=from_domain,
        dkim=tuple(signatures),
        spf=spf,
        spf_domain=spf_domain,
        dmarc=dmarc,
        dmarc_policy=_policy(value) if dmarc is not None else None,
        spam_score=score,
        spam_flagged=flagged,
    )


def _policy(value: str) -> str | None:
    match = _DMARC_RESULT.search(value)
    if match is None:
        return None
    for found in _POLICY.finditer(match.group(1)):
        policy = found.group(1).lower()
        if policy in POLICIES:
            return policy
    return None


def spam_verdict(headers: Sequence[tuple[str, str]]) -> tuple[float | None, bool | None]:
    """(highest score, flagged by any) over the spam filter headers; (None, None) without any."""
    scores: list[float] = []
    flags: list[bool] = []
    for name, value in headers:
        key = name.strip().lower()
        if key not in SPAM_HEADERS:
            continue
        text = _FOLD.sub(" ", str(value)).strip()[:MAX_VALUE]
        head = text.split(",", 1)[0].split(" ", 1)[0].strip().lower()
        if key in ("x-spam-status", "x-spam-flag", "x-spam"):
            if head in ("yes", "true"):
                flags.append(True)
            elif head in ("no", "false"):
                flags.append(False)
            found = _SCORE.search(text) if key == "x-spam-status" else None
        elif key == "x-spamd-result":
            after = text.partition(":")[2].strip().lower()  # "default: True [15.00 / 15.00]"
            if after.startswith(("true", "false")):
                flags.append(after.startswith("true"))
            found = _BRACKET.search(text)
        else:  # X-Spam-Score, X-Rspamd-Score: the number alone
            found = _NUMBER.fullmatch(text.split(" ", 1)[0]) if text else None
        if found is not None:
            number = float(found.group(1) if found.groups() else found.group(0))
            if math.isfinite(number) and abs(number) <= MAX_SCORE:
                scores.append(number)
    return (max(scores) if scores else None), (any(flags) if flags else None)
