"""Dockerfile and .dockerignore, read the way Docker reads them, for tests that cannot run Docker.

Enough of the syntax for our own Dockerfile: comments, parser directives, line continuations,
exec-form (JSON) arguments, `--flag=value` options and stages; and .dockerignore's patterns with
moby's semantics (last matching pattern wins, `!` re-includes, a pattern that matches a parent
directory matches everything under it, `*` stops at `/`, `**` does not).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword (upper case), its `--flags` and the rest of the line."""

    keyword: str
    flags: dict[str, str]
    rest: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form instruction; fails on the shell form."""
        value = json.loads(self.rest)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self.rest
        return value


@dataclass
class Stage:
    """The instructions from one FROM to the next."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, rest = " ".join(p for p in pending if p).partition(" ")
        pending = []
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        found.append(Instruction(keyword.upper(), flags, rest, start))
    return found


def stages(text: str) -> list[Stage]:
    """The stages, with the global ARGs' defaults expanded in FROM."""
    args: dict[str, str] = {}
    found: list[Stage] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            words = instruction.rest.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(base, name))
        elif not found and instruction.keyword == "ARG":
            name, _, default = instruction.rest.partition("=")
            args[name] = default
        elif found:
            found[-1].instructions.append(instruction)
    return found


def env(stage: Stage, environ: dict[str, str]) -> dict[str, str]:
    """The environment a stage's ENV instructions set, `$VAR` expanded as Docker does."""
    result = dict(environ)
    for instruction in stage.all("ENV"):
        for pair in shlex.split(instruction.rest):
            name, _, value = pair.partition("=")
            result[name] = re.sub(
                r"\$\{(\w+)\}|\$(\w+)", lambda m: result.get(m[1] or m[2], ""), value
            )
    return result


class DockerIgnore:
    """The patterns of a .dockerignore file."""

    def __init__(self, text: str) -> None:
        self.patterns: list[tuple[bool, re.Pattern[str], str]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
            self.patterns.append((include, re.compile(_translate(pattern)), pattern))

    def excluded(self, path: str) -> bool:
        """Whether `path` (relative, with `/`) stays out of the build context."""
        parents = [path]
        while "/" in parents[-1]:
            parents.append(parents[-1].rsplit("/", 1)[0])
        excluded = False
        for include, regex, _ in self.patterns:
            if any(regex.fullmatch(p) for p in parents):
                excluded = not include
        return excluded

    def context(self, root: Path) -> list[str]:
        """Every file under `root` that `docker build root` would send, relative, sorted."""
        sent: list[str] = []
        for folder, dirs, files in os.walk(root):
            relative = Path(folder).relative_to(root).as_posix()
            prefix = "" if relative == "." else relative + "/"
            # Do not descend where everything is excluded and nothing is re-included below.
            dirs[:] = [d for d in dirs if not self._pruned(prefix + d)]
            sent.extend(prefix + f for f in files if not self.excluded(prefix + f))
        return sorted(sent)

    def _pruned(self, directory: str) -> bool:
        if not self.excluded(directory):
            return False
        return not any(
            include and (pattern.startswith("*") or (pattern + "/").startswith(directory + "/"))
            for include, _, pattern in self.patterns
        )


def _translate(pattern: str) -> str:
    """A .dockerignore pattern as a regular expression over a relative path."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)
