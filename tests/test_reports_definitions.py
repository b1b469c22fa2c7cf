"""Report definitions: the shipped YAML is valid, and bad YAML is named by file, key and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from reports.loading import SHIPPED_DIR, load_all, load_one, parse_file, secret_problems
from reports.windows import last_complete_window, window_for

GOOD = """\
name: {name}
title: Test
view: reporting.x
columns:
  - {{column: a, heading: A}}
split: [per_agency]
schedule: "0 6 * * *"
destinations:
  - type: folder
    path: /tmp/x
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_shipped_definitions_are_valid() -> None:
    good, bad = load_all(SHIPPED_DIR)
    assert bad == []
    names = {g.definition.name for g in good}
    assert {
        "children_in_care_roster",
        "placement_moves_7_days",
        "monthly_spend_by_category",
        "duplicates_to_merge",
        "indicators_monthly",
    } <= names
    by_name = {g.definition.name: g.definition for g in good}
    assert by_name["children_in_care_roster"].split == ["per_agency"]
    assert set(by_name["monthly_spend_by_category"].split) == {"per_agency", "provincial"}
    assert by_name["indicators_monthly"].split == ["provincial"]
    assert by_name["duplicates_to_merge"].optional


def test_errors_name_file_key_and_line(tmp_path: Path) -> None:
    text = GOOD.format(name="bad_cron").replace('"0 6 * * *"', '"0 25 * * *"')
    write(tmp_path, "bad_cron", text)
    # a typo'd key in the 2nd destination, on line 15
    text2 = (
        GOOD.format(name="typo") + "  - type: email\n    to: [a@b.c]\n    from: r@b.c\n    smtp_host: h\n"
        "    pasword_env: X\n"
    )
    write(tmp_path, "typo", text2)
    write(tmp_path, "ok_one", GOOD.format(name="ok_one"))
    good, bad = load_all(tmp_path)
    assert [g.definition.name for g in good] == ["ok_one"]  # the others do not stop it
    messages = sorted(str(p) for p in bad)
    cron = next(m for m in messages if "bad_cron.yaml" in m)
    assert "bad_cron.yaml:7 schedule:" in cron and "not a valid cron" in cron
    typo = next(m for m in messages if "typo.yaml" in m)
    assert "typo.yaml:15 destinations[1].pasword_env: unknown key" in typo


def test_wrong_type_and_missing_key_lines(tmp_path: Path) -> None:
    text = GOOD.format(name="shape").replace("split: [per_agency]", "split: [everyone]")
    text = text.replace("title: Test\n", "")
    write(tmp_path, "shape", text)
    _, problems = parse_file(tmp_path / "shape.yaml")
    rendered = [str(p) for p in problems]
    assert any(r.startswith(f"{tmp_path / 'shape.yaml'}:5 split[0]:") for r in rendered), rendered
    assert any("title: Field required" in r for r in rendered), rendered


def test_missing_secret_is_named_with_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.format(name="mail") + (
        "  - type: email\n    to: [a@b.c]\n    from: r@b.c\n    smtp_host: h\n"
        "    username_env: CWW_TEST_SMTP_USER\n    password_env: CWW_TEST_SMTP_PW_UNSET\n"
    )
    write(tmp_path, "mail", text)
    monkeypatch.setenv("CWW_TEST_SMTP_USER", "u")
    monkeypatch.delenv("CWW_TEST_SMTP_PW_UNSET", raising=False)
    loaded = load_one("mail", tmp_path)
    problems = [str(p) for p in secret_problems(loaded)]
    assert len(problems) == 1
    assert "mail.yaml:16 destinations[1].password_env" in problems[0]
    assert "CWW_TEST_SMTP_PW_UNSET is not set" in problems[0]


def test_password_never_without_starttls(tmp_path: Path) -> None:
    text = GOOD.format(name="plain") + (
        "  - type: email\n    to: [a@b.c]\n    from: r@b.c\n    smtp_host: h\n    starttls: false\n"
        "    username_env: U\n    password_env: P\n"
    )
    write(tmp_path, "plain", text)
    _, problems = parse_file(tmp_path / "plain.yaml")
    assert len(problems) == 1 and "STARTTLS" in problems[0].message and problems[0].line == 11


def test_name_must_match_file(tmp_path: Path) -> None:
    write(tmp_path, "other", GOOD.format(name="something"))
    _, problems = parse_file(tmp_path / "other.yaml")
    assert problems[0].line == 1 and "name it something.yaml" in problems[0].message


@pytest.mark.parametrize(
    ("cron", "day", "start", "end"),
    [
        ("0 6 * * *", date(2026, 11, 3), date(2026, 11, 3), date(2026, 11, 4)),
        ("0 7 * * 1", date(2026, 11, 4), date(2026, 11, 2), date(2026, 11, 9)),  # Monday to Monday
        ("0 7 1 * *", date(2026, 10, 15), date(2026, 10, 1), date(2026, 11, 1)),
        ("30 1 * * *", date(2026, 3, 8), date(2026, 3, 8), date(2026, 3, 9)),  # DST change day in Toronto
    ],
)
def test_windows(cron: str, day: date, start: date, end: date) -> None:
    w = window_for(cron, day)
    assert (w.start, w.end) == (start, end)


def test_last_complete_window() -> None:
    assert last_complete_window("0 7 1 * *", date(2026, 11, 3)).start == date(2026, 10, 1)
    assert last_complete_window("0 7 1 * *", date(2026, 10, 31)).start == date(2026, 10, 1)
    assert last_complete_window("0 7 * * 1", date(2026, 11, 3)).start == date(2026, 10, 26)
    assert last_complete_window("0 6 * * *", date(2026, 11, 3)).start == date(2026, 11, 3)
