"""What each Kefu process holds, read from /proc (Linux): memory, open files, threads.

No psutil in the environments: /proc has all of it and needs nothing installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    pid: int
    name: str
    rss_mb: float
    fds: int
    threads: int


def children_of(root: int) -> list[int]:
    """Every descendant of `root` (the processes `kefu run` started, and theirs)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def name_of(pid: int) -> str:
    """A short name a reader recognises: gateway, rasa, actions, nginx; a worker process a
    server started is named after it ("actions:5055 worker")."""
    own = _own_name(pid)
    if own is not None:
        return own
    parent = _parent(pid)
    while parent and parent > 1:
        if (named := _own_name(parent)) is not None:
            return f"{named} worker"
        parent = _parent(parent)
    return _command(pid)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _command(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return argv[0].decode(errors="replace").rsplit("/", 1)[-1][:20] if argv else "?"


def _own_name(pid: int) -> str | None:
    try:
        argv = (Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
    except OSError:
        return "?"
    line = " ".join(a.decode(errors="replace") for a in argv if a)
    port = ""
    if "--port" in line:
        port = ":" + line.split("--port", 1)[1].split()[0]
    for needle, name in (("bot.app:create_app", "gateway"), ("rasa_sdk", "actions"),
                         ("rasa run", "rasa"), ("rasa_sdk.endpoint", "actions"),
                         ("nginx", "nginx")):
        if needle in line:
            return name + port
    if "/rasa" in line and " run" in line:
        return "rasa" + port
    return None


def sample(pid: int) -> Sample | None:
    try:
        statm = Path(f"/proc/{pid}/statm").read_text().split()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None
    return Sample(pid, name_of(pid), int(statm[1]) * PAGE / 1e6, fds, threads)


def sample_tree(root: int) -> dict[int, Sample]:
    """The processes under `root` worth watching (those with over 20 MB: not the shells)."""
    samples = {}
    for pid in children_of(root):
        if (found := sample(pid)) is not None and found.rss_mb > 20:
            samples[pid] = found
    return samples
