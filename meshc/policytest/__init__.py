"""`meshc test`: policy tests (`test` blocks, docs/testing.md) run against
the rendered documents: cases.py (what a test runs), expect.py (how an
expectation is judged), coverage.py, runner.py, report.py."""
