"""The shipped golden set as CI tests: one pytest item per golden case (x repeat).

    pytest evals/                                   # against the built-in simulator (offline)
    pytest evals/ --endpoint qwen-plus --harness-config harness.yaml -n 2 --junitxml evals.xml
    pytest evals/ -m "rag and not slow" -k refund --baseline reports/runs/main --min-pass-rate 0.9

See docs/ci.md for the GitHub Actions workflow.
"""

from harness.pytest_plugin import GoldenCase


def test_golden(golden_case: GoldenCase) -> None:
    golden_case.assert_passed()
