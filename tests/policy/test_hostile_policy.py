"""Issue 25: a hostile policy document is refused where it goes wrong, never a crash."""

from __future__ import annotations

from pathlib import Path


def test_a_policy_document_nested_200000_deep_is_a_policy_error_with_its_line(
    tmp_path: Path,
) -> None:
    from deter.solver.policy.document import PolicyError
    from deter.solver.policy.runtime import Auditor

    policy = tmp_path / "policy.json"
    policy.write_text(
        '{\n  "schema_version": 1,\n  "rates": ' + "[" * 200_000 + "]" * 200_000 + "}"
    )
    try:
        Auditor.from_file(policy)
    except PolicyError as exc:
        (issue,) = exc.issues
        assert "nested deeper than" in issue.message and issue.line == 3
    else:
        raise AssertionError("a policy nested 200,000 deep was accepted")
