"""`kefu db`, `kefu import`, `kefu export` and `kefu customer`: the store from the command line.

kefu/cli.py registers these with `kefu.commands.store.register(app)`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import typer
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from crm_store import migrate
from crm_store.db import database_url, session_scope
from crm_store.errors import StoreError
from crm_store.importers import (
    ImportRejected,
    ImportResult,
    import_customers,
    import_orders,
    import_products,
)

logger = logging.getLogger(__name__)

# Called with the result of every successful `kefu import products` that changed something
# (the product index registers its incremental sync here, from kefu/cli.py).
after_products_import: list[Callable[[ImportResult], None]] = []
# Likewise after `kefu import orders` (RFM tiers are recomputed here).
after_orders_import: list[Callable[[ImportResult], None]] = []

db_app = typer.Typer(help="The customer store's schema (Alembic migrations).",
                     no_args_is_help=True)
import_app = typer.Typer(help="Load shop data from CSV (idempotent upsert, all or nothing).",
                         no_args_is_help=True)
export_app = typer.Typer(help="Write shop data to CSV.", no_args_is_help=True)
customer_app = typer.Typer(help="A customer's data rights: export or erase.",
                           no_args_is_help=True)

MAX_WARNINGS_SHOWN = 25


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    app.add_typer(customer_app, name="customer")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url()).render_as_string(hide_password=True)


def _require_current_schema() -> None:
    try:
        current = migrate.current_revision()
    except OperationalError as exc:
        raise _fail(f"cannot open the customer store at {_safe_url()}: {exc.orig}") from exc
    if current != migrate.head_revision():
        raise _fail(f"the customer store at {_safe_url()} is at schema revision "
                    f"{current or 'none'}, not {migrate.head_revision()}; run `kefu db upgrade`")


# ---- kefu db ---------------------------------------------------------------------------------

@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the store to the newest schema (or REVISION)."""
    try:
        migrate.upgrade(revision)
    except SQLAlchemyError as exc:
        raise _fail(f"migration failed on {_safe_url()}: {exc}") from exc
    typer.echo(f"customer store at {_safe_url()}: revision {migrate.current_revision()}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'.")) -> None:
    """Migrate the store back to REVISION ('base' drops every table)."""
    try:
        migrate.downgrade(revision)
    except SQLAlchemyError as exc:
        raise _fail(f"downgrade failed on {_safe_url()}: {exc}") from exc
    typer.echo(f"customer store at {_safe_url()}: revision {migrate.current_revision() or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Show the store's schema revision and whether it is the newest."""
    current = migrate.current_revision()
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind (newest is {head})"
    typer.echo(f"customer store at {_safe_url()}: revision {current or 'none'}, {state}")


# ---- kefu import -----------------------------------------------------------------------------

def _progress(done: int, total: int) -> None:
    if total >= 2000:
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r  {done}/{total} rows written{end}")
        sys.stderr.flush()


def _run_import(fn: Callable[..., ImportResult], path: Path, **kwargs) -> ImportResult:
    _require_current_schema()
    try:
        result = fn(path, progress=_progress, **kwargs)
    except ImportRejected as exc:
        raise _fail(str(exc)) from exc
    except (StoreError, SQLAlchemyError) as exc:
        raise _fail(f"{path.name} not imported, nothing was written: {exc}") from exc
    for warning in result.warnings[:MAX_WARNINGS_SHOWN]:
        typer.echo(f"warning: {warning}", err=True)
    if len(result.warnings) > MAX_WARNINGS_SHOWN:
        typer.echo(f"warning: ... and {len(result.warnings) - MAX_WARNINGS_SHOWN} more",
                   err=True)
    typer.echo(result.summary())
    return result


@import_app.command("products")
def import_products_command(
    file: Path = typer.Argument(..., help="CSV: sku,name,category,price,description,stock,tags"),
    prune: bool = typer.Option(False, "--prune",
                               help="Archive products the file does not list."),
) -> None:
    """Upsert products by SKU."""
    result = _run_import(import_products, file, prune=prune)
    if result.touched:
        for hook in after_products_import:
            hook(result)


@import_app.command("customers")
def import_customers_command(
    file: Path = typer.Argument(
        ..., help="CSV: email,name,phone,interests,marketing_opt_in,created_at"),
    region: str | None = typer.Option(
        None, "--region", help="Country (e.g. GB, US) for phone numbers without a +code; "
        "default KEFU_DEFAULT_PHONE_REGION."),
) -> None:
    """Upsert customers by email (normalised); phones become +E.164 where possible."""
    from kefu_config.settings import get_settings

    region = region or getattr(get_settings(), "default_phone_region", None)
    _run_import(import_customers, file, default_phone_region=region)


@import_app.command("orders")
def import_orders_command(
    file: Path = typer.Argument(..., help="CSV: order_id,customer_email,status,items,total,"
                                          "created_at,shipped_at,carrier,tracking_number"),
) -> None:
    """Upsert orders by order id; every SKU must be in the catalog."""
    result = _run_import(import_orders, file)
    if result.touched:
        for hook in after_orders_import:
            hook(result)


# ---- kefu export -----------------------------------------------------------------------------

@export_app.command("customers")
def export_customers_command(
    file: Path = typer.Argument(..., help="Where to write the CSV (the import format)."),
) -> None:
    """Write every customer in the customers import format."""
    from crm_store.exports import export_customers

    _require_current_schema()
    count = export_customers(file)
    typer.echo(f"wrote {count} customers to {file}")


# ---- kefu customer ---------------------------------------------------------------------------

@customer_app.command("export")
def customer_export_command(
    email: str = typer.Argument(..., help="The customer's email."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to a file, not stdout."),
) -> None:
    """Everything stored about a customer, as JSON."""
    from crm_store.privacy import export_customer

    _require_current_schema()
    try:
        with session_scope() as session:
            data = export_customer(session, email=email)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")
    else:
        typer.echo(text)


@customer_app.command("forget")
def customer_forget_command(
    email: str = typer.Argument(..., help="The customer's email."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Erase a customer's personal data; their orders stay, anonymised, for accounting."""
    from crm_store.privacy import forget_customer

    _require_current_schema()
    if not yes:
        typer.confirm(f"Erase everything personal stored about {email}? This cannot be undone",
                      abort=True)
    try:
        with session_scope() as session:
            result = forget_customer(session, email=email, actor="cli")
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"customer {result.customer_id} erased: {result.messages_deleted} messages "
               f"deleted, {result.tickets_anonymised} tickets anonymised, "
               f"{result.orders_kept} orders kept without personal data")
    typer.echo(_forget_in_rasa(result.rasa_senders))


def _forget_in_rasa(senders: tuple[str, ...]) -> str:
    """Rasa keeps its own copy of each conversation (texts, slots): erase that too. The
    production profile's SQL tracker store is a database table; the default in-memory one is
    emptied through Rasa's HTTP API (replacing a conversation's events with none)."""
    import httpx

    from crm_store.privacy import forget_rasa_trackers
    from kefu.stack import rasa_endpoint_env
    from kefu_config.rasa_api import conversation_path
    from kefu_config.settings import get_settings

    if not senders:
        return "Rasa: no conversations to erase"
    settings = get_settings()
    if settings.profile == "production":
        tracker_url = rasa_endpoint_env(settings)["KEFU_RASA_TRACKER_URL"]
        rows = forget_rasa_trackers(tracker_url, senders)
        return f"Rasa: {rows} tracker events deleted from its tracker store"
    emptied = 0
    try:
        for sender in senders:
            response = httpx.put(
                f"{settings.rasa_url}{conversation_path(sender)}/tracker/events",
                json=[], timeout=10)
            response.raise_for_status()
            emptied += 1
    except httpx.ConnectError:
        return "Rasa: not running; its in-memory conversations went with it"
    except httpx.HTTPError as exc:
        raise _fail(f"Rasa did not erase its copy of the conversations: {exc}") from exc
    return f"Rasa: {emptied} in-memory conversations emptied"


# ---- kefu prepare (called from kefu/cli.py) --------------------------------------------------

def prepare_store() -> bool:
    """Migrate to the newest schema, then load the demo shop if the store has no products;
    True when the demo shop was loaded now."""
    from kefu.demo import load_if_empty

    try:
        migrate.upgrade("head")
    except SQLAlchemyError as exc:
        raise _fail(f"cannot migrate the customer store at {_safe_url()}: {exc}") from exc
    typer.echo(f"customer store: {_safe_url()} (revision {migrate.current_revision()})")
    try:
        loaded = load_if_empty()
    except ImportRejected as exc:
        raise _fail(f"the demo shop did not load:\n{exc}") from exc
    if loaded.loaded:
        for result in loaded.results:
            typer.echo(f"  demo shop {result.summary()}")
            if result.kind == "products":
                for hook in after_products_import:
                    hook(result)
    else:
        typer.echo("  catalog present; demo shop not loaded")
    return loaded.loaded
