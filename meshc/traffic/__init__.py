"""Requests asked of a compiled policy, for `meshc route`, `meshc test`
and `meshc diff`: readings.py (the policy rendered and read both ways, at
any canary steps), asking.py (what is asked, as the evaluator's request),
answer.py (a decision with its provenance), text.py (decisions in the
language's words)."""
