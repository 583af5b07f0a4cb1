"""Parsing benchmark: how much of real mail the reader gets right, beside the best library, and how fast.

    .venv/bin/pip install -e '.[bench]'        # the libraries measured beside ours
    .venv/bin/python bench/parsing.py [--category NAME] [--rounds 5] [--reference REV [--cold]]

For each category of tests/data/parsing/ (forwards, replies, signatures, machine mail) it prints the
fraction right per client/language group and overall, for our reader and for the library named in
the category module (tests/corpora/), and the harmful misses (a wrong or machine-made lead). Then
the whole reader's speed: read_email over every corpus message, as messages per second and as a
ratio to the standard library's own parse of the same bytes (email.message_from_bytes with the
default policy and get_body), measured in alternating rounds of the same run. With
`--reference REV` (e.g. the commit before a change), the reader of that commit (a temporary git
worktree) reads the same messages in the same rounds, each reader in a process of its own;
`--cold` empties both readers' caches before each message (the corpus repeats senders and
signatures more than a mailbox does, and the reader caches what it has read of them).
"""

from __future__ import annotations

import argparse
import email
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from email.policy import default
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from ingest.mail import read_email
from storage.errors import ParseError
from tests.corpora import INTERNAL, RECEIVED, Case, Outcome, categories


def _score(outcomes: list[Outcome]) -> str:
    right = sum(o.right for o in outcomes)
    return f"{right}/{len(outcomes)} {100 * right / max(len(outcomes), 1):5.1f} %"


def report(module: object) -> list[Case]:
    cases: list[Case] = module.cases()  # type: ignore[attr-defined]
    ours: dict[str, list[Outcome]] = defaultdict(list)
    theirs: dict[str, list[Outcome]] = defaultdict(list)
    wrong: list[str] = []
    for case in cases:
        mine = module.ours(case)  # type: ignore[attr-defined]
        ours[case.group].append(mine)
        if mine.wrong:
            wrong.append(f"{case.name}: {mine.detail}")
        other = module.library(case)  # type: ignore[attr-defined]
        if other is not None:
            theirs[case.group].append(other)
    name = module.CATEGORY  # type: ignore[attr-defined]
    library = module.LIBRARY  # type: ignore[attr-defined]
    print(f"\n## {name}: {len(cases)} cases (library: {library})")
    print(f"{'group':<28} {'LeadBot':>18} {'library':>18}")
    for group in sorted(ours):
        lib = _score(theirs[group]) if theirs.get(group) else "-"
        print(f"{group:<28} {_score(ours[group]):>18} {lib:>18}")
    all_ours = [o for group in ours.values() for o in group]
    all_theirs = [o for group in theirs.values() for o in group]
    print(f"{'ALL':<28} {_score(all_ours):>18} {_score(all_theirs) if all_theirs else '-':>18}")
    print(f"harmful misses (wrong or machine leads): {len(wrong)}")
    for line in wrong[:20]:
        print(f"  {line}")
    return cases


def speed(raws: list[bytes], rounds: int) -> None:
    def ours() -> None:
        for raw in raws:
            with contextlib.suppress(ParseError):
                read_email(raw, internal_domains=INTERNAL, received_at=RECEIVED)

    def stdlib() -> None:
        for raw in raws:
            msg = email.message_from_bytes(raw, policy=default)
            part = msg.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
            if part is not None:
                with contextlib.suppress(LookupError, ValueError):
                    part.get_content()

    rates: dict[str, list[float]] = {"read_email": [], "stdlib parse": []}
    for _ in range(rounds):
        for label, fn in (("read_email", ours), ("stdlib parse", stdlib)):
            start = time.perf_counter()
            fn()
            rates[label].append(len(raws) / (time.perf_counter() - start))
    mine, ref = (statistics.median(rates[k]) for k in ("read_email", "stdlib parse"))
    print(f"\n## speed: {len(raws)} messages, median of {rounds} rounds")
    print(f"read_email    {mine:8.0f} msg/s")
    print(f"stdlib parse  {ref:8.0f} msg/s")
    print(f"ratio         {mine / ref:8.2f} (read_email / stdlib)")


_TIMER = """
import pickle, sys, time
from datetime import UTC, datetime
sys.path.insert(0, sys.argv[1])
from ingest.mail import read_email
raws = pickle.load(open(sys.argv[2], "rb"))
for raw in raws[:20]:  # warm-up: imports, regex compilation
    try:
        read_email(raw, internal_domains=frozenset({"rep.example"}), received_at=datetime.now(UTC))
    except Exception:
        pass
# --cold: the reader's own caches (bounded functools caches of ingest.*) are emptied before each message,
# so a sender, a signature or a line seen in an earlier message costs as much as a new one.
caches = []
if sys.argv[3] == "cold":
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("ingest.")]:
        for value in [*vars(module).values()] + [
            v for c in vars(module).values() if isinstance(c, type) for v in vars(c).values()
        ]:
            value = getattr(value, "__func__", value)
            info = getattr(value, "cache_info", None)
            # Bounded caches hold what was read; unbounded ones (@cache) hold loaded data.
            if callable(info) and info().maxsize is not None and value not in caches:
                caches.append(value)
spent = 0.0
for raw in raws:
    for cache in caches:
        cache.cache_clear()
    start = time.process_time()
    try:
        read_email(raw, internal_domains=frozenset({"rep.example"}), received_at=datetime.now(UTC))
    except Exception:
        pass
    spent += time.process_time() - start
print(len(raws) / spent)
"""


def against(raws: list[bytes], rev: str, rounds: int, *, cold: bool = False) -> None:
    """Our reader and the one of `rev`, each in its own process, alternating: CPU-time rates.

    `cold`: each reader's caches emptied before every message (no sender or signature seen
    before), for a corpus that repeats senders more than a real mailbox does."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "reference"
        subprocess.run(
            ["git", "-C", str(root), "worktree", "add", "--detach", str(tree), rev],
            check=True,
            capture_output=True,
        )
        try:
            data = Path(tmp) / "raws.pickle"
            data.write_bytes(pickle.dumps(raws))
            rates: dict[str, list[float]] = {"this tree": [], rev: []}
            mode = "cold" if cold else "warm"
            for _ in range(rounds):
                for label, where in (("this tree", root), (rev, tree)):
                    out = subprocess.run(
                        [sys.executable, "-c", _TIMER, str(where), str(data), mode],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    rates[label].append(float(out.stdout.strip().splitlines()[-1]))
        finally:
            subprocess.run(
                ["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )
    mine, ref = (statistics.median(rates[k]) for k in ("this tree", rev))
    how = "CPU time, caches emptied before each message" if cold else "CPU time"
    print(f"\n## against {rev}: {len(raws)} messages, median of {rounds} rounds ({how})")
    print(f"this tree     {mine:8.0f} msg/s")
    print(f"{rev:<13} {ref:8.0f} msg/s")
    print(f"ratio         {mine / ref:8.2f} (this tree / {rev})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", help="only this category")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reference", metavar="REV", help="time the reader of this commit too")
    parser.add_argument(
        "--cold", action="store_true", help="with --reference: empty the caches before each message"
    )
    args = parser.parse_args()
    raws: list[bytes] = []
    for module in categories():
        if args.category and args.category != module.CATEGORY:
            continue
        raws.extend(case.raw for case in report(module))
    if raws:
        speed(raws, args.rounds)
        if args.reference:
            against(raws, args.reference, args.rounds, cold=args.cold)


if __name__ == "__main__":
    main()
