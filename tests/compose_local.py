"""Reading compose.yaml, the Dockerfile and .dockerignore the way Docker does, closely enough to
run their commands as local processes (tests/test_compose.py): this machine's `docker` is a
client without an engine or the compose plugin.

- interpolate(): the Compose Specification's interpolation (`$VAR`, `${VAR}`, `${VAR:-d}`,
  `${VAR-d}`, `${VAR:?err}`, `${VAR?err}`, nesting in defaults, `$$` for a literal `$`),
  applied to values, not keys, after YAML parsing:
  https://github.com/compose-spec/compose-spec/blob/main/12-interpolation.md
- dockerfile(): instructions with their arguments, line continuations joined, comments out
  (https://docs.docker.com/reference/dockerfile/).
- ignored(): a .dockerignore pattern list applied to a path: Go filepath.Match per pattern
  plus `**`, the last matching line wins, `!` re-includes
  (https://docs.docker.com/reference/dockerfile/#dockerignore-file).
"""
from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any, Mapping

_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")


class MissingVariable(ValueError):
    """A ${VAR:?err} or ${VAR?err} whose variable is missing: compose refuses the file."""


def interpolate_text(text: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 2)
            out.append(_braced(text[i + 2:end], env))
            i = end + 1
        else:
            m = _NAME.match(text, i + 1)
            if m:
                out.append(env.get(m.group(0), ""))
                i = m.end()
            else:  # not a variable: kept as it is
                out.append("$")
                i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"unclosed ${{ in {text!r}")


def _braced(inner: str, env: Mapping[str, str]) -> str:
    m = _NAME.match(inner)
    if not m:
        raise ValueError(f"bad variable ${{{inner}}}")
    name, rest = m.group(0), inner[m.end():]
    value = env.get(name)
    for op in (":-", "-", ":?", "?"):
        if rest.startswith(op):
            arg = interpolate_text(rest[len(op):], env)
            missing = value is None or (op.startswith(":") and value == "")
            if op.endswith("-"):
                return arg if missing else str(value)
            if missing:
                raise MissingVariable(f"{name}: {arg}")
            return str(value)
    if rest:
        raise ValueError(f"unsupported interpolation ${{{inner}}}")
    return "" if value is None else str(value)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate_text(node, env)
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    return node


def load_compose(path: Path, env: Mapping[str, str]) -> dict:
    import yaml

    return interpolate(yaml.safe_load(path.read_text(encoding="utf-8")), env)


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """[(INSTRUCTION, arguments)] in order."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    out = []
    for line in lines:
        word, _, args = line.partition(" ")
        out.append((word.upper(), args.strip()))
    return out


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form CMD/ENTRYPOINT (the shell form is refused here)."""
    value = json.loads(args)
    if not (isinstance(value, list) and all(isinstance(a, str) for a in value)):
        raise ValueError(f"not an exec form: {args}")
    return value


def healthcheck_command(args: str) -> tuple[dict[str, str], list[str]]:
    """HEALTHCHECK [--opt=value ...] CMD [...]: (options, exec-form command)."""
    options: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        opt, _, rest = rest.partition(" ")
        key, _, value = opt[2:].partition("=")
        options[key] = value
        rest = rest.strip()
    kind, _, command = rest.partition(" ")
    if kind != "CMD":
        raise ValueError(f"HEALTHCHECK without CMD: {args}")
    return options, exec_form(command)


def dockerignore(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def _matches(pattern: str, rel: str) -> bool:
    pattern = pattern.strip("/")
    if "**" in pattern:
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]")
        return re.fullmatch(regex, rel) is not None
    # Go's filepath.Match: * never crosses a '/'. A pattern naming a directory excludes
    # everything under it.
    parts = rel.split("/")
    for n in range(1, len(parts) + 1):
        prefix = "/".join(parts[:n])
        if prefix.count("/") == pattern.count("/") and fnmatch.fnmatchcase(prefix, pattern):
            return True
    return False


def ignored(patterns: list[str], rel: str) -> bool:
    result = False
    for p in patterns:
        if p.startswith("!"):
            if _matches(p[1:], rel):
                result = False
        elif _matches(p, rel):
            result = True
    return result
