"""The development secret key (KEFU_SECRET_KEY unset): gateway replicas starting at the same
moment must agree on one key, and none may fail reading a half-written file."""

from __future__ import annotations

import multiprocessing
import stat

from bot.auth import SECRET_FILE, load_secret_key
from kefu_config.settings import Settings

CONTEXT = multiprocessing.get_context("fork")


def _load(data_dir: str, start, results) -> None:
    start.wait()
    try:
        results.put(load_secret_key(Settings(data_dir=data_dir, secret_key=None)))
    except Exception as exc:  # the failure itself is what the test reports
        results.put(repr(exc))


def test_processes_starting_together_share_one_whole_key(tmp_path):
    for attempt in range(5):  # the race is a matter of microseconds: give it several chances
        data_dir = tmp_path / f"run{attempt}"
        start, results = CONTEXT.Barrier(8), CONTEXT.Queue()
        processes = [CONTEXT.Process(target=_load, args=(str(data_dir), start, results))
                     for _ in range(8)]
        for process in processes:
            process.start()
        keys = [results.get(timeout=30) for _ in processes]
        for process in processes:
            process.join(10)
        assert len(set(keys)) == 1 and isinstance(keys[0], bytes), keys
        key_file = data_dir / SECRET_FILE
        assert key_file.read_text().strip().encode() == keys[0]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert [p.name for p in data_dir.iterdir()] == [SECRET_FILE]  # no temporary files left
