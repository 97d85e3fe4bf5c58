"""One module per aggregate. Every function takes a Session first and keyword-only arguments.

Callers own the unit of work: `with session_scope() as session: orders.cancel(session, ...)`.
Functions flush when they need ids but never commit.
"""
