"""Canned responses for the agent console, from a YAML file the shop edits
(policy/canned_responses.yml, or KEFU_CANNED_RESPONSES_FILE).

The file is checked when it is read: a missing field or a duplicate id is an error naming the
entry, not a silently missing reply. Placeholders {first_name}, {agent} and {shop} are filled
for the conversation the agent is in; any other brace is left as written.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.schemas import CannedResponse

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{(first_name|agent|shop)\}")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    title: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=2000)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    responses: list[_Entry] = []


_cache: dict[Path, tuple[float, list[_Entry]]] = {}


def load(path: Path) -> list[_Entry]:
    """The file's entries (re-read when it changes); no file means no canned responses."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        logger.info("no canned responses file at %s", path)
        return []
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        entries = _File.model_validate(raw).responses
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"{path}: {problems}") from exc
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        if entry.id in seen:
            raise ValueError(f"{path}: response {number} repeats the id {entry.id!r}")
        seen.add(entry.id)
    _cache[path] = (mtime, entries)
    return entries


def render(path: Path, *, first_name: str | None, agent: str, shop: str) -> list[CannedResponse]:
    values = {"first_name": first_name or "there", "agent": agent, "shop": shop}
    return [CannedResponse(id=e.id, title=e.title,
                           text=PLACEHOLDER.sub(lambda m: values[m.group(1)], e.text))
            for e in load(path)]
