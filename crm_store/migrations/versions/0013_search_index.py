"""Staff search: a full-text index over messages, customers and tickets (crm_store/services/search.py).

SQLite: one FTS5 table per searched table, with external content (the text stays only in
the table itself) and triggers that keep it in step on insert, on update of the searched
columns and on delete (a customer's erasure deletes their messages and blanks their profile
and tickets, and the index follows). Existing rows are indexed here ('rebuild').
PostgreSQL: a GIN index on the `to_tsvector('simple', ...)` expression the search queries
with (crm_store.services.search.PG_DOCUMENTS; the expressions below must stay equal to it),
without a pending list (fastupdate off) so that searches stay fast between vacuums.
CREATE INDEX holds writes to the table while it builds (seconds per million messages).

Careful later: `batch_alter_table` on messages, customers or tickets copies the table on
SQLite and drops its triggers with it; such a migration must create them again
(tests/crm_store/test_search.py checks that the index follows writes at head).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Table -> the columns searched.
SEARCHED = {
    'messages': ('text',),
    'customers': ('name', 'email', 'phone'),
    'tickets': ('reference', 'subject', 'description'),
}

_SEPARATORS = "-@.+/_:#"
_SPACES = " " * len(_SEPARATORS)


def _pg_document(expression: str) -> str:
    return f"to_tsvector('simple'::regconfig, translate({expression}, " \
           f"'{_SEPARATORS}', '{_SPACES}'))"


PG_DOCUMENTS = {
    'messages': _pg_document("text"),
    'customers': _pg_document("coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || "
                              "coalesce(phone, '')"),
    'tickets': _pg_document("coalesce(reference, '') || ' ' || subject || ' ' || "
                            "description"),
}


def _sqlite_upgrade() -> None:
    for table, columns in SEARCHED.items():
        index = f'{table}_search'
        names = ', '.join(f'"{c}"' for c in columns)
        new = ', '.join(f'new."{c}"' for c in columns)
        old = ', '.join(f'old."{c}"' for c in columns)
        op.execute(f"CREATE VIRTUAL TABLE {index} USING fts5({names}, content='{table}', "
                   f"content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
        insert = f"INSERT INTO {index}(rowid, {names}) VALUES (new.id, {new});"
        delete = f"INSERT INTO {index}({index}, rowid, {names}) VALUES ('delete', old.id, {old});"
        op.execute(f"CREATE TRIGGER {index}_ai AFTER INSERT ON {table} BEGIN {insert} END")
        op.execute(f"CREATE TRIGGER {index}_ad AFTER DELETE ON {table} BEGIN {delete} END")
        op.execute(f"CREATE TRIGGER {index}_au AFTER UPDATE OF {names} ON {table} "
                   f"BEGIN {delete} {insert} END")
        op.execute(f"INSERT INTO {index}({index}) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_upgrade()
        return
    for table, document in PG_DOCUMENTS.items():
        # fastupdate off: a write goes into the index itself, not a pending list that every
        # search reads through until the next vacuum (measured: 20k updated customers made
        # each search ~180 ms slower until then). Messages arrive a few a second at most.
        op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin ({document}) "
                   f"WITH (fastupdate = off)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for table in SEARCHED:
            index = f'{table}_search'
            for suffix in ('ai', 'ad', 'au'):
                op.execute(f"DROP TRIGGER IF EXISTS {index}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {index}")
        return
    for table in PG_DOCUMENTS:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
