"""The `kefu` command. Each part of Kefu adds its own group of subcommands here."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from kefu_config.settings import REPO_ROOT, get_settings

app = typer.Typer(help="Kefu, the customer-service assistant.", no_args_is_help=True)


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request at INFO; the supervisor polls health endpoints twice a second.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def run(
    profile: str = typer.Option(None, "--profile", help="default | production "
                                "(KEFU_PROFILE); production: PostgreSQL, Redis, RabbitMQ."),
    replicas: int = typer.Option(None, "--replicas", min=1, max=16,
                                 help="Copies of the gateway, Rasa and the action server, "
                                 "behind nginx (KEFU_REPLICAS; production profile)."),
) -> None:
    """Start Rasa, the action server and the gateway; stop them all on Ctrl-C or SIGTERM."""
    from kefu.stack import tiers
    from kefu.supervisor import ChildFailed, StopRequested, Supervisor, install_signal_handlers
    from kefu_config.settings import with_profile_defaults

    overrides = {key: value for key, value in (("profile", profile), ("replicas", replicas))
                 if value is not None}
    if profile is not None and profile not in ("default", "production"):
        raise typer.BadParameter("--profile must be 'default' or 'production'")
    settings = with_profile_defaults(get_settings().model_copy(update=overrides))
    if settings.replicas > 1 and settings.profile != "production":
        typer.echo("--replicas needs --profile production: replicas share PostgreSQL, Redis "
                   "and RabbitMQ", err=True)
        raise typer.Exit(2)
    if settings.replicas > 1 and settings.telegram_token and not settings.telegram_webhook_url:
        typer.echo("--replicas with Telegram needs KEFU_TELEGRAM_WEBHOOK_URL: only one process "
                   "may long-poll Telegram (docs/deploy.md)", err=True)
        raise typer.Exit(2)
    try:
        groups = tiers(settings)
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"Cannot start Kefu: {exc}", err=True)
        raise typer.Exit(2)
    if settings.profile == "production":
        # Replicas must not race to migrate the shared database (bot/app.py
        # `_schema_up_to_date`): bring it to the newest schema once, before any starts.
        from crm_store import migrate

        typer.echo("profile production: upgrading the customer store schema ...")
        try:
            migrate.upgrade(url=settings.resolved_database_url)
        except Exception as exc:  # the database is the first thing a deployment gets wrong
            typer.echo(f"Cannot upgrade the customer store at "
                       f"{_safe_url(settings.resolved_database_url)}: {exc}", err=True)
            raise typer.Exit(1)
    supervisor = Supervisor(settings.data_path / "logs", cwd=REPO_ROOT)
    install_signal_handlers(supervisor)
    try:
        for group in groups:
            # The replicas of a tier start together; the next tier waits for all of them.
            children = [supervisor.start(spec) for spec in group]
            for child in children:
                seconds = supervisor.wait_healthy(child)
                typer.echo(f"  {child.spec.name:<10} ready in {seconds:5.1f} s  "
                           f"({child.spec.health_url})")
        if settings.replicas > 1:
            typer.echo(f"\n{settings.replicas} replicas behind nginx "
                       f"({settings.data_path / 'nginx' / 'nginx.conf'}).")
        typer.echo(f"\nKefu is running. Open the shop page: {settings.gateway_url}/")
        typer.echo("Press Ctrl-C to stop.")
        supervisor.watch()
        typer.echo("Stopping Kefu ...")
    except StopRequested:
        typer.echo("Stopping Kefu before it finished starting ...")
    except ChildFailed as exc:
        typer.echo(f"\nKefu stopped because a process failed:\n{exc}", err=True)
        supervisor.stop_all()
        raise typer.Exit(1)
    supervisor.stop_all()
    typer.echo("Stopped.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def prepare() -> None:
    """Get the data directory ready: run by `make run` before `kefu run`; safe to repeat.

    Migrates the customer store to the newest schema, loads the demo shop into an empty store,
    and brings the product index up to date with the catalog (only changed products are
    embedded, so a second run costs seconds).
    """
    from kefu.commands.knowledge import sync_after_import, sync_help_after_prepare
    from kefu.commands.store import prepare_store

    settings = get_settings()
    settings.data_path.mkdir(parents=True, exist_ok=True)
    typer.echo(f"data directory: {settings.data_path}")
    demo_loaded = prepare_store()
    sync_after_import(None)
    sync_help_after_prepare(demo_loaded)


@app.command()
def backup(
    file: Path = typer.Argument(..., dir_okay=False,
                                help="The archive to write (e.g. kefu-backup.tar.gz); must not "
                                "exist."),
) -> None:
    """Archive the customer store, the product index and the secret key (default profile);
    safe while Kefu runs. PostgreSQL: docs/deploy.md, "Backup and restore"."""
    from kefu.backup import create_backup

    with _backup_outcome("backup not written"):
        create_backup(get_settings(), file, echo=typer.echo)


@app.command()
def restore(
    file: Path = typer.Argument(..., dir_okay=False, help="An archive from `kefu backup`."),
    force: bool = typer.Option(False, "--force",
                               help="Replace the store, product index and secret key of a data "
                               "directory that is not empty (stop Kefu first)."),
) -> None:
    """Restore a `kefu backup` archive into the data directory (empty unless --force), after
    checking all of it; then run `kefu prepare` and `kefu run`."""
    from kefu.backup import restore_backup

    with _backup_outcome("restore refused"):
        restore_backup(get_settings(), file, force=force, echo=typer.echo)


@contextmanager
def _backup_outcome(refused: str) -> Iterator[None]:
    """Exit 2 where backups don't apply (PostgreSQL), 1 with the reason when one is refused."""
    from kefu.backup import BackupError, NotApplicable

    try:
        yield
    except NotApplicable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    except BackupError as exc:
        typer.echo(f"{refused}: {exc}", err=True)
        raise typer.Exit(1)


@app.command("dialogue")
def dialogue_summary(
    hours: float = typer.Option(24.0, "--hours", min=0.0, help="Look back this many hours."),
) -> None:
    """What Rasa did lately, from its event broker (production profile): intents, actions and
    rejected actions, most frequent first."""
    from datetime import timedelta

    from crm_store.db import session_scope
    from crm_store.models import utcnow
    from crm_store.services import dialogue_events

    with session_scope() as session:
        counts = dialogue_events.summary(session, since=utcnow() - timedelta(hours=hours))
    if not any(counts.values()):
        typer.echo(f"No dialogue events in the last {hours:g} h (they arrive through Rasa's "
                   "event broker on the production profile: docs/deploy.md).")
        return
    for kind in ("intent", "action", "action_rejected"):
        rows = sorted(counts.get(kind, {}).items(), key=lambda item: (-item[1], item[0]))
        if rows:
            typer.echo(f"{kind}:")
            for name, count in rows:
                typer.echo(f"  {count:>7}  {name}")


def _register_subcommands() -> None:
    """Each part of Kefu owns its commands; they are collected here, and so are the hooks that
    keep derived data current after an import."""
    from kefu.commands import marketing as marketing_cli
    from kefu.commands.channels import app as channels_app
    from kefu.commands.knowledge import app as knowledge_app
    from kefu.commands.knowledge import recommend_command, sync_after_import
    from kefu.commands.store import after_orders_import, after_products_import
    from kefu.commands.store import register as register_store_commands
    from kefu.commands.users import app as user_app

    register_store_commands(app)  # kefu db | import | export | customer
    app.add_typer(knowledge_app, name="knowledge")  # kefu knowledge build|sync|info|search
    app.command("recommend")(recommend_command)
    app.add_typer(marketing_cli.segments_app, name="segments")  # kefu segments refresh|list
    app.add_typer(marketing_cli.campaigns_app, name="campaigns")  # send-due|report
    app.add_typer(channels_app, name="channels")  # kefu channels shop-token EMAIL
    app.add_typer(user_app, name="user")  # kefu user add|list|disable|enable|password|unlock

    # After `kefu import products`: embed only new and changed products, then announce new
    # products to interested, consenting customers (in that order: matching uses the index).
    after_products_import.append(sync_after_import)
    after_products_import.append(marketing_cli.notify_after_import)
    # After `kefu import orders`: RFM tiers follow the orders.
    after_orders_import.append(marketing_cli.refresh_after_import)


_register_subcommands()


def main() -> None:
    app(prog_name="kefu")


if __name__ == "__main__":
    sys.exit(main())
