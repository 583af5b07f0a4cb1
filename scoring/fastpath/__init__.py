"""The batch-speed twin of scoring/engine.py: the same scores, without reasons, from cached plans.

RuleSet.score_batch(reasons=False), plan_batch and score_plans run here. A lead's plan (.plan) is
the time-free part of its score, made once per lead content or stored as JSON; FastPath (.batch)
adds the decay of a whole batch at one `now`. The rules' meaning is written once, in
scoring.engine; this package repeats its arithmetic operation by operation, and
tests/scoring/test_fastpath.py property-tests (hypothesis) that both give equal results.

Scoring leaves the garbage collector alone: a job that scores many leads in a large process pauses
it around its run (bot.jobs.gc.collector_paused, as the decay rescore does), since parsing stored
plans with the collector on costs about three times as much.
"""

from scoring.fastpath.batch import PLAN_CACHE_MAX, FastPath
from scoring.fastpath.plan import Plan, Planner, dump_plan

__all__ = ["PLAN_CACHE_MAX", "FastPath", "Plan", "Planner", "dump_plan"]
