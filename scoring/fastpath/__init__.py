"""The batch-speed twin of scoring/engine.py: the same scores, without reasons, from cached plans.

RuleSet.score_batch(reasons=False), plan_batch and score_plans run here. A lead's plan (.plan) is
the time-free part of its score, made once per lead content or stored as JSON; FastPath (.batch)
adds the decay of a whole batch at one `now`. The rules' meaning is written once, in
scoring.engine; this package repeats its arithmetic operation by operation, and
tests/scoring/test_fastpath.py property-tests (hypothesis) that both give equal results.
"""

from scoring.fastpath.batch import PLAN_CACHE_MAX, FastPath
from scoring.fastpath.plan import Plan, Planner, dump_plan

__all__ = ["PLAN_CACHE_MAX", "FastPath", "Plan", "Planner", "dump_plan"]
