"""Issue 25: paths that cannot be read are outcomes of their own, never skipped silently.

Run as a real unprivileged user (``tests/support/unprivileged.py``): root reads a ``chmod 000``
folder anyway, so only another user sees what an operator's CI user would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from deter.cli.exit_codes import ExitCode

from tests.support.batch_helpers import one_action_spec
from tests.support.unprivileged import invoke_as_user, open_to_all


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    """specs/: three good files, a locked subfolder holding one, and a *.toml symlink loop."""
    folder = tmp_path / "specs"
    (folder / "hidden").mkdir(parents=True)
    for name in ("a.toml", "b.toml", "c.toml", "hidden/d.toml"):
        (folder / name).write_text(one_action_spec(gain=1.0, cap=10.0, detection=0.5))
    os.symlink("loop2.toml", folder / "loop.toml")
    os.symlink("loop.toml", folder / "loop2.toml")
    open_to_all(tmp_path)
    os.chmod(folder / "hidden", 0)
    yield folder
    os.chmod(folder / "hidden", 0o755)


def _docs(stdout: str) -> dict[str, dict]:
    return {d["file"]: d for d in map(json.loads, stdout.splitlines())}


def test_batch_reports_a_locked_subfolder_and_symlink_loops(specs: Path) -> None:
    args = ["batch", "specs", "-f", "jsonl"]
    code, stdout, stderr = invoke_as_user(specs.parent, ["batch", "specs/a.toml", "-f", "jsonl"])
    assert code == 0, stderr  # the user can run deter (and the imports it needs are loaded)
    code, stdout, stderr = invoke_as_user(specs.parent, args)
    docs = _docs(stdout)
    assert code == ExitCode.BAD_INPUT, stderr  # a CI gate fails
    assert [docs[f"specs/{n}"]["status"] for n in ("a.toml", "b.toml", "c.toml")] == ["optimal"] * 3
    hidden = docs["specs/hidden"]
    assert hidden["status"] == "bad_input" and "permission denied" in hidden["error"]
    for loop in ("specs/loop.toml", "specs/loop2.toml"):
        assert docs[loop]["status"] == "bad_input"
        assert "symbolic links" in docs[loop]["error"], docs[loop]
    assert "5 of 6 files" not in stderr and "6 files" in stderr


def test_naming_a_locked_folder_says_permission_denied(specs: Path) -> None:
    for command in ("batch", "check"):
        code, stdout, stderr = invoke_as_user(specs.parent, [command, "specs/hidden"])
        assert code == ExitCode.BAD_INPUT, stderr
        assert "permission denied" in stdout + stderr
        assert "no spec files" not in stdout + stderr


def test_check_and_validate_fail_on_what_they_cannot_read(specs: Path) -> None:
    code, stdout, stderr = invoke_as_user(specs.parent, ["check", "specs", "-f", "jsonl"])
    assert code == ExitCode.BAD_INPUT, stderr
    assert _docs(stdout)["specs/hidden"]["status"] == "bad_input"
    code, stdout, stderr = invoke_as_user(specs.parent, ["validate", "specs"])
    assert code == ExitCode.BAD_INPUT, stderr
    assert "specs/hidden" in stderr and "permission denied" in stderr.lower()
    assert "specs/loop.toml" in stderr


def test_a_glob_reports_the_locked_folders_it_could_not_look_into(specs: Path) -> None:
    """``glob`` itself skips a folder it cannot list; batch and check must not."""
    (specs / "open").mkdir()
    (specs / "open" / "e.toml").write_text(one_action_spec(gain=1.0, cap=10.0, detection=0.5))
    open_to_all(specs / "open")
    for pattern in ("specs/*/*.toml", "specs/**/*.toml"):
        for command in ("batch", "check"):
            code, stdout, stderr = invoke_as_user(specs.parent, [command, pattern, "-f", "jsonl"])
            docs = _docs(stdout)
            assert code == ExitCode.BAD_INPUT, (pattern, command, stderr)
            assert docs["specs/hidden"]["status"] == "bad_input", (pattern, command)
            assert "permission denied" in docs["specs/hidden"]["error"]
            assert docs["specs/open/e.toml"]["status"] == "optimal", (pattern, command)
    # naming the locked folder's files by a glob: permission denied, not "no spec files"
    code, stdout, stderr = invoke_as_user(specs.parent, ["batch", "specs/hidden/*.toml"])
    assert code == ExitCode.BAD_INPUT, stderr
    said = (stdout + stderr).lower()
    assert "permission denied" in said and "no spec files" not in said
