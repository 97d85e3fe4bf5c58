"""Rasa's Redis lock store, with its read-modify-write steps made atomic across processes.

Rasa 3.6's RedisLockStore keeps each conversation's ticket queue as one JSON value and
updates it with GET, change, SET. Two Rasa replicas issuing a ticket for the same
conversation at the same moment can both read the same queue and both get the same ticket,
so both process a message at once; the SQL tracker store then keeps only one replica's new
events (it stores "events beyond the count already saved") and the other turn is lost.
tests/production/test_lock_store.py shows it: two processes issuing tickets in step get the
same ticket for nearly every conversation with the plain store, never with this one.

Here every step that changes the queue runs under a short per-conversation mutex (redis-py's
Lock: SET NX PX with a token, released by a script), so tickets are unique and none is
overwritten. Waiting for one's turn is unchanged (Rasa polls the queue).
"""

from __future__ import annotations

from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import LockError as RedisMutexError
from redis.exceptions import RedisError

# The mutex guards a few Redis round trips; if its holder died, it frees itself after this.
MUTEX_TTL_SECONDS = 5.0
MUTEX_WAIT_SECONDS = 10.0


class AtomicRedisLockStore(RedisLockStore):
    """`type: rasa_stores.redis_lock_store.AtomicRedisLockStore`, with RedisLockStore's keys
    (url, port, db, password, key_prefix, ...)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _mutex(self, conversation_id: str) -> Any:
        return self.red.lock(f"{self.key_prefix}{conversation_id}:mutex",
                             timeout=MUTEX_TTL_SECONDS, blocking_timeout=MUTEX_WAIT_SECONDS,
                             sleep=0.005)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            with self._mutex(conversation_id):
                return super().issue_ticket(conversation_id, lock_lifetime)
        except (RedisMutexError, RedisError) as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):
            super().finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Rasa's cleanup is finish_serving + is_someone_waiting + delete_lock: one step here,
        # so a ticket issued in between is not deleted with the lock.
        with self._mutex(conversation_id):
            lock = self.get_lock(conversation_id)
            if lock is None:
                return
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                self.save_lock(lock)
            else:
                self.delete_lock(conversation_id)
