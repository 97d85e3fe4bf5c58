"""The customer store: Kefu's single source of truth.

Models (`crm_store.models`), Alembic migrations (`crm_store.migrate`), one service module per
aggregate (`crm_store.services.*`), CSV import/export (`crm_store.importers`,
`crm_store.exports`). The `kefu db|import|export|customer` commands that drive them live at the
top (`kefu.commands.store`). No module outside this package writes SQL; it imports only
`kefu_config` (docs/architecture.md).
"""
