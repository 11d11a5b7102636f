"""Reading a spec file that someone else wrote (issue 14): only regular files are read, and
every read is bounded; a byte-order mark is accepted; errors are located in linear time and
every mistake that can be found is reported in one run."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest
from deter.solver.results.errors import SpecError
from deter.solver.spec import loading, toml_lines
from deter.solver.spec.loading import load_path, load_text, read_bounded

from tests.support.reference import TWO_ACTIONS


def refusal(path: Path | str, **kwargs: int) -> str:
    """The error refusing ``path``, which must be refused from its metadata: not one byte
    read (``read_bounded`` never called), so a device or a FIFO cannot stall the reader."""
    with (
        mock.patch.object(loading, "read_bounded", wraps=loading.read_bounded) as reads,
        pytest.raises(SpecError) as error,
    ):
        load_path(path, **kwargs)
    assert reads.call_count == 0  # refused, not read
    return str(error.value)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_is_refused_without_reading_it(device: str) -> None:
    assert "is a device, not a regular file" in refusal(device)


def test_a_symlink_to_a_device_is_judged_by_its_target(tmp_path: Path) -> None:
    link = tmp_path / "spec.toml"
    link.symlink_to("/dev/zero")
    assert "is a device" in refusal(link)


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    assert "FIFO" in refusal(fifo)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    assert "is a folder" in refusal(tmp_path)


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text(TWO_ACTIONS.text)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    assert len(load_path(link).actions) == 3


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text(TWO_ACTIONS.text)
    assert "over the limit of 10" in refusal(big, max_bytes=10)


def test_a_read_is_bounded_to_one_byte_over_the_limit() -> None:
    read, write = os.pipe()
    try:
        os.write(write, b"x" * 5000)
        os.close(write)
        write = -1
        assert read_bounded(read, 100) is None  # more than the limit: refused, not all read
        assert len(os.read(read, 10_000)) == 5000 - 101  # only max + 1 bytes were taken
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TWO_ACTIONS.text.encode())
    assert len(load_path(path).actions) == 3
    assert len(load_text("\ufeff" + TWO_ACTIONS.text).actions) == 3


def test_thousands_of_errors_are_located_in_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    scans = 0
    real = toml_lines.key_lines

    def counted(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
        nonlocal scans
        scans += 1
        return real(text)

    monkeypatch.setattr(toml_lines, "key_lines", counted)
    toml_lines.key_index.cache_clear()
    keys = "".join(f"unknown_key_{i} = 1\n" for i in range(5000))
    text = "[problem]\n" + keys + TWO_ACTIONS.text  # about 100 KB
    with pytest.raises(SpecError) as error:
        load_text(text)
    assert scans == 1  # was one rescan per error (82 s)
    issues = error.value.issues
    assert len(issues) == 5000
    assert issues[-1].line == 5001 and issues[-1].key == "problem.unknown_key_4999"


SIX_MISTAKES = """\
[problem]
nme = "x"

[agent]
penalty_cap = 20.0
risk_aversion = "high"

[[actions]]
name = "honest"
gain = 0.0

[[actions]]
name = "cheat"
gain = 3.0

[[actions]]
name = "cheat"
gain = 2.0

[[monitors]]
name = "judge"
cost = 1.0
false_positive = 7
detects = { chaet = 0.5, cheat = 0.3 }
"""


def test_field_and_cross_field_mistakes_are_reported_in_one_run() -> None:
    with pytest.raises(SpecError) as error:
        load_text(SIX_MISTAKES)
    found = {(i.key, i.line) for i in error.value.issues}
    assert found == {
        ("problem.nme", 2),  # unknown key
        ("agent.risk_aversion", 6),  # wrong type
        ("monitors.judge.false_positive", 23),  # out of range
        ("actions.cheat.name", 17),  # duplicate name: a cross-field check
        ("monitors.judge.detects.chaet", 24),  # unknown action: a cross-field check
    }


def test_cross_field_checks_wait_when_a_required_key_is_wrong() -> None:
    text = TWO_ACTIONS.text.replace("gain = 3.0", 'gain = "three"').replace(
        "detects = { a = 0.6", "detects = { zzz = 0.6"
    )
    with pytest.raises(SpecError) as error:
        load_text(text)
    assert [i.key for i in error.value.issues] == ["actions.a.gain"]
