"""Reading report definitions from YAML, with errors that name the file, the key and the line.

PyYAML's composer keeps a position for every node; we walk the node tree once to map each key path
(``("destinations", 1, "password_env")``) to its line, then turn pydantic's error locations into
``reports/definitions/roster.yaml:23 destinations[1].password_env: …``. A broken file is reported
and skipped; the others still load, so one typo never stops every agency's morning report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from cww.errors import CwwError
from cww.settings import PROJECT_ROOT
from reports.spec import ReportDefinition

SHIPPED_DIR = PROJECT_ROOT / "reports" / "definitions"
DIR_ENV = "CWW_REPORT_DEFINITIONS"  # another folder of definitions (tests, a deployment's own set)


def definitions_dir() -> Path:
    return Path(os.environ[DIR_ENV]) if os.environ.get(DIR_ENV) else SHIPPED_DIR


Path_ = tuple[str | int, ...]


class DefinitionError(CwwError):
    """A report definition that cannot be used, with file:line, key and fix."""


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{_display(self.file)}:{self.line}" if self.line else _display(self.file)
        return f"{where} {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass(frozen=True)
class LoadedDefinition:
    """A validated definition plus where it came from, so later checks can still cite lines."""

    definition: ReportDefinition
    file: Path
    lines: dict[Path_, int]

    def line_of(self, *path: str | int) -> int | None:
        return _line_for(self.lines, path)

    def problem(self, message: str, *path: str | int) -> Problem:
        return Problem(self.file, self.line_of(*path), _key_text(path), message)


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def _key_text(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _index_lines(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    """Record the 1-based line of every key (mappings) and item (sequences)."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            out[child] = key_node.start_mark.line + 1
            _index_lines(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            out[child] = item.start_mark.line + 1
            _index_lines(item, child, out)


def _line_for(lines: dict[Path_, int], path: tuple[Any, ...]) -> int | None:
    """The line of the deepest known prefix of ``path`` (pydantic adds union tags we skip)."""
    clean: list[str | int] = [p for p in path if isinstance(p, int | str)]
    for n in range(len(clean), -1, -1):
        # Discriminated unions put the tag ('email') in the location: try without it too.
        candidate = tuple(clean[:n])
        if candidate in lines:
            return lines[candidate]
    return None


def _strip_union_tags(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """Drop pydantic's discriminator tags from an error location by walking the real data."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        in_dict = isinstance(cur, dict) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and part < len(cur)
        if in_dict or in_list:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and part in {"folder", "email", "sftp"}:
            continue  # the discriminator tag
        else:
            out.append(part)
            cur = None
    return tuple(out)


def parse_file(path: Path) -> tuple[LoadedDefinition | None, list[Problem]]:
    """Parse and validate one YAML file; never raises for a bad definition, returns problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path, None, "", f"cannot read the file: {exc}")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return None, [Problem(path, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if node is None or not isinstance(data, dict):
        return None, [Problem(path, 1, "", "expected a mapping (name:, title:, view: …) at the top")]
    lines: dict[Path_, int] = {}
    _index_lines(node, (), lines)
    try:
        definition = TypeAdapter(ReportDefinition).validate_python(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _strip_union_tags(tuple(err["loc"]), data)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling against reports/spec.py)"
            problems.append(Problem(path, _line_for(lines, loc), _key_text(loc), msg))
        return None, problems
    expected = path.stem
    if definition.name != expected:
        return None, [
            Problem(
                path,
                lines.get(("name",)),
                "name",
                f"is {definition.name!r} but the file is {path.name}: "
                f"name it {definition.name}.yaml or set name: {expected}",
            )
        ]
    return LoadedDefinition(definition, path, lines), []


def secret_problems(loaded: LoadedDefinition) -> list[Problem]:
    """Destinations whose secret environment variable is not set in this environment."""
    problems = []
    for i, dest in enumerate(loaded.definition.destinations):
        for key, env in dest.secret_envs().items():
            if not os.environ.get(env):
                problems.append(
                    loaded.problem(
                        f"environment variable {env} is not set. Fix: export {env}=… where reports "
                        "run (secrets never go in the YAML)",
                        "destinations",
                        i,
                        key,
                    )
                )
    return problems


def load_all(directory: Path | None = None) -> tuple[list[LoadedDefinition], list[Problem]]:
    """Every ``*.yaml`` in the folder: the good ones, and the problems of the bad ones."""
    directory = directory or definitions_dir()
    good: list[LoadedDefinition] = []
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.yaml")):
        loaded, errs = parse_file(path)
        problems.extend(errs)
        if loaded is not None:
            good.append(loaded)
    return good, problems


def load_one(name: str, directory: Path | None = None) -> LoadedDefinition:
    """One definition by name, raising DefinitionError with every problem it has."""
    directory = directory or definitions_dir()
    path = directory / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.yaml"))
        raise DefinitionError(f"no report named {name!r} in {_display(directory)}. Known: {', '.join(known)}")
    loaded, errs = parse_file(path)
    if loaded is None:
        raise DefinitionError("; ".join(str(e) for e in errs))
    return loaded
