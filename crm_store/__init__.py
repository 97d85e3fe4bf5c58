"""The customer store: Kefu's single source of truth.

Models (`crm_store.models`), Alembic migrations (`crm_store.migrate`), one service module per
aggregate (`crm_store.services.*`), CSV import/export (`crm_store.importers`, `crm_store.exports`)
and the `kefu db|import|export|customer` commands (`crm_store.cli`). No module outside this
package writes SQL.
"""
