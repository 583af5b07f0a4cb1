"""Scoring benchmark: ROC AUC on the X Education leads (by path) and engine throughput.

.venv/bin/python bench/scoring.py            # AUC of default rules, learned rules, references
.venv/bin/python bench/scoring.py --speed    # leads/second on 100,000 synthetic leads
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scoring import ActivityFacts, LeadFacts, RuleSet, load_rules, loads_rules  # noqa: E402
from scoring.learn import read_csv_rows, row_to_lead, train_point_rules  # noqa: E402

LEADS_CSV = ROOT.parent / "shared/data/leads/Leads.csv"
# Identifiers, and what sales fills in after contact (it leaks the outcome).
DROP = ["Prospect ID", "Lead Number", "Tags", "Lead Quality", "Last Notable Activity"]
NOW = datetime(2025, 1, 1, tzinfo=UTC)
SEED = 42
# Pairs of fields learned together: found in the training rows (scoring.learn.find_interactions),
# as `leadbot score train` does by default; none are picked by hand.
AUTO_INTERACTIONS = 10
COUNTRIES = {
    "india": "IN",
    "united states": "US",
    "united arab emirates": "AE",
    "singapore": "SG",
    "saudi arabia": "SA",
    "united kingdom": "GB",
    "australia": "AU",
    "qatar": "QA",
    "hong kong": "HK",
    "bahrain": "BH",
    "oman": "OM",
    "france": "FR",
    "germany": "DE",
    "canada": "CA",
    "nigeria": "NG",
    "kuwait": "KW",
    "south africa": "ZA",
}
TITLES = {"student": "Student", "working professional": "Manager", "businessman": "Owner"}
LAST_ACTIVITY = {
    "page visited on website": "page_visit",
    "converted to lead": "form_submission",
    "form submitted on website": "form_submission",
    "olark chat conversation": "chat",
    "had a phone conversation": "call",
    "email opened": "email_open",
    "email link clicked": "email_click",
    "sms sent": "sms",
}


def csv_to_facts(row: dict[str, str], i: int) -> tuple[LeadFacts, list[ActivityFacts]]:
    """Hand mapping of a CSV row onto what an inbound-lead system would know."""
    f = {k[7:]: v for k, v in row.items() if k.startswith("fields.")}
    occupation = f.get("What is your current occupation", "").casefold()
    lead = LeadFacts(
        email=f"lead{i}@example.com",
        domain="example.com",
        title=TITLES.get(occupation),
        country=COUNTRIES.get(f.get("Country", "").casefold()),
        fields=f,
    )
    acts: list[ActivityFacts] = []
    visits = min(int(float(f.get("TotalVisits", "0"))), 30)
    acts += [ActivityFacts("page_visit", NOW - timedelta(days=d)) for d in range(visits)]
    if f.get("Lead Origin") in ("Lead Add Form", "Landing Page Submission"):
        acts.append(ActivityFacts("form_submission", NOW - timedelta(days=1)))
    if f.get("A free copy of Mastering The Interview") == "Yes":
        acts.append(ActivityFacts("download", NOW - timedelta(days=2)))
    last = f.get("Last Activity", "").casefold()
    acts.append(ActivityFacts(LAST_ACTIVITY.get(last, last.replace(" ", "_")), NOW))
    if f.get("Do Not Email") == "Yes":
        acts.append(ActivityFacts("email_reply", NOW, text="Please unsubscribe me"))
    return lead, acts


def auc_of(rules: RuleSet, rows: list[dict[str, str]], *, activities: bool) -> float:
    from sklearn.metrics import roc_auc_score

    scores = []
    for i, row in enumerate(rows):
        lead, acts = csv_to_facts(row, i) if activities else (row_to_lead(row, index=i), [])
        scores.append(rules.score(lead, acts, now=NOW).score)
    return float(roc_auc_score([int(r["outcome"]) for r in rows], scores))


def references(train: list[dict[str, str]], test: list[dict[str, str]]) -> dict[str, float]:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def features(row: dict[str, str]) -> dict[str, float | str]:
        out: dict[str, float | str] = {}
        for k, v in row.items():
            if k.startswith("fields."):
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
        return out

    vec = DictVectorizer(sparse=False)
    x_train = vec.fit_transform([features(r) for r in train])
    x_test = vec.transform([features(r) for r in test])
    y_train = np.array([int(r["outcome"]) for r in train])
    y_test = np.array([int(r["outcome"]) for r in test])
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    gb = HistGradientBoostingClassifier(random_state=SEED)
    return {
        name: float(roc_auc_score(y_test, m.fit(x_train, y_train).predict_proba(x_test)[:, 1]))
        for name, m in (("logistic regression", lr), ("gradient boosting", gb))
    }


def accuracy() -> None:
    from sklearn.model_selection import train_test_split

    rows = read_csv_rows(LEADS_CSV, {"Converted": "outcome"}, drop=DROP)
    train, test = train_test_split(
        rows, test_size=0.3, random_state=SEED, stratify=[r["outcome"] for r in rows]
    )
    print(f"{len(rows)} leads from {LEADS_CSV}: train {len(train)}, test {len(test)}")
    print(f"(a) default hand-written rules  AUC {auc_of(load_rules(), test, activities=True):.4f}")
    started = time.perf_counter()
    toml = train_point_rules(train, "outcome", auto_interactions=AUTO_INTERACTIONS)
    learned = loads_rules(toml, path="<learned>")
    print(
        f"(b) learned point rules         AUC {auc_of(learned, test, activities=False):.4f}"
        f"  ({len(learned.rules)} rules, points {min(r.points for r in learned.rules):g}"
        f"..{max(r.points for r in learned.rules):g}, trained in "
        f"{time.perf_counter() - started:.1f}s)"
    )
    for name, auc in references(train, test).items():
        print(f"(c) {name:<28} AUC {auc:.4f}")
    if "--show-rules" in sys.argv:
        print(toml)


WORDS = [
    "hello",
    "we",
    "would",
    "like",
    "pricing",
    "for",
    "our",
    "team",
    "please",
    "send",
    "a",
    "quote",
    "and",
    "details",
    "about",
    "the",
    "analytics",
    "dashboard",
    "integration",
    "api",
    "demo",
    "trial",
    "next",
    "quarter",
    "budget",
    "thanks",
    "regards",
    "student",
    "thesis",
    "unsubscribe",
    "job",
    "application",
    "cv",
    "licence",
    "seats",
    "contract",
]


def synthetic(n: int, seed: int = 7) -> list[tuple[LeadFacts, list[ActivityFacts]]]:
    rnd = random.Random(seed)
    titles = ["CEO", "VP Sales", "Head of Data", "Marketing Manager", "Engineer", "Student", None]
    domains = ["acme.io", "gmail.com", "mailinator.com", "globex.de", "initech.co.uk"]
    kinds = [
        "page_visit",
        "page_visit",
        "email_inquiry",
        "email_reply",
        "download",
        "form_submission",
        "webinar",
    ]
    out = []
    for i in range(n):
        domain = rnd.choice(domains)
        lead = LeadFacts(
            email=f"p{i}@{domain}",
            domain=domain,
            name="P",
            title=rnd.choice(titles),
            country=rnd.choice(["DE", "US", "IN", "FR", None]),
            fields={
                "company_size": str(rnd.randint(1, 5000)),
                "industry": rnd.choice(["Software", "Retail", "Education"]),
            },
        )
        acts = []
        for _ in range(rnd.randint(0, 6)):
            kind = rnd.choice(kinds)
            text = " ".join(rnd.choices(WORDS, k=rnd.randint(8, 40))) if "email" in kind else ""
            acts.append(ActivityFacts(kind, NOW - timedelta(days=rnd.uniform(0, 120)), text))
        out.append((lead, acts))
    return out


def fresh_copy(
    items: list[tuple[LeadFacts, list[ActivityFacts]]],
) -> list[tuple[LeadFacts, list[ActivityFacts]]]:
    """New objects and new strings with the same content, as a database read returns them."""

    def s(v: str | None) -> str | None:
        return None if v is None else "".join(list(v))

    return [
        (
            replace(
                lead,
                email=s(lead.email),
                domain=s(lead.domain),
                title=s(lead.title),
                fields={s(k): s(v) for k, v in lead.fields.items()},
            ),
            [
                replace(
                    a,
                    kind=s(a.kind),
                    text=s(a.text),
                    fields=dict(a.fields),
                    occurred_at=a.occurred_at + timedelta(0),
                )
                for a in acts
            ],
        )
        for lead, acts in items
    ]


def speed(n: int = 100_000) -> None:
    rules = load_rules()
    items = synthetic(n)
    print(
        f"{n} synthetic leads, {sum(len(a) for _, a in items)} activities, "
        f"{len(rules.rules)} rules (default file)"
    )
    copies = [fresh_copy(items), fresh_copy(items)]
    for label, reasons, batch, now in (
        ("score_batch(reasons=False), first pass", False, items, NOW),
        ("same leads again, same objects, +1 day", False, items, NOW + timedelta(days=1)),
        ("rescore: fresh copies, +7 days", False, copies[0], NOW + timedelta(days=7)),
        ("rescore: fresh copies, +30 days", False, copies[1], NOW + timedelta(days=30)),
        ("score_batch(reasons=True)", True, items, NOW),
    ):
        # CPU time of this process: the benchmark machine is shared with other jobs.
        started = time.process_time()
        for i in range(0, n, 1000):  # the batches a rescoring job would send
            rules.score_batch(batch[i : i + 1000], now=now, reasons=reasons)
        took = time.process_time() - started
        print(f"  {label:<42} {n / took:>9,.0f} leads/s  ({took / n * 1e6:.1f} µs/lead)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", action="store_true", help="engine throughput only")
    parser.add_argument("--show-rules", action="store_true", help="print the learned TOML")
    args = parser.parse_args()
    speed() if args.speed else accuracy()


if __name__ == "__main__":
    main()
