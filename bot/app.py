"""The gateway's ASGI application (`uvicorn bot.app:create_app --factory`).

One process owns every customer channel: the web widget (websocket), Telegram (polling or
webhook) and the REST channel. They share one `Gateway` (bot/gateway.py): the conversation
log in crm_store, bot/human mode, Rasa, and outbound delivery. Other parts of Kefu running in
this app (the agent console) use `app.state.gateway.deliver(...)` and subscribe to
`app.state.staff_bus`.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot import limits
from bot.attachments import LinkSigner
from bot.auth import load_secret_key
from bot.channels import rest, telegram, web
from bot.fanout import RedisFanout
from bot.gateway import Gateway, lease_for
from bot.outbound import Dispatcher
from bot.rasa_client import RasaClient
from bot.rasa_events import RasaEventConsumer
from bot.recovery import Recovery
from bot.routes import (  # the marketing console
    attachments,
    campaigns,
    dashboard,
    errors,
    health,
    segments,
    staff_console,
)
from bot.staff_bus import InProcessStaffBus, RedisStaffBus, StaffBus
from crm_store import db, migrate
from kefu_config.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def _schema_up_to_date() -> None:
    # The gateway writes every message to the store, so it cannot run on an old schema. On one
    # machine it brings the schema up itself; with several replicas run `kefu db upgrade`
    # before starting them (the upgrade is then a no-op here).
    if not migrate.is_up_to_date():
        logger.warning("customer store schema is behind; upgrading to %s",
                       migrate.head_revision())
        migrate.upgrade()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The settings given to the factory decide which store the gateway writes to.
        if db.database_url() != db.normalise_url(settings.resolved_database_url):
            db.configure(settings.resolved_database_url)
        await asyncio.to_thread(_schema_up_to_date)
        app.state.rasa = RasaClient(settings.rasa_url, settings.rasa_timeout)
        # KEFU_REDIS_URL set: several gateway replicas share staff events and widget
        # deliveries over Redis pub/sub (bot/fanout.py); unset: one process, in memory.
        fanout = app.state.fanout = RedisFanout(settings.redis_url) \
            if settings.redis_url else None
        bus: StaffBus
        if fanout is not None:
            await fanout.start()
            bus = RedisStaffBus(fanout)
            await bus.start()
        else:
            bus = InProcessStaffBus()
        app.state.staff_bus = bus
        dispatcher = app.state.dispatcher = Dispatcher(
            bus, max_attempts=settings.outbound_max_attempts,
            sweep_interval=settings.outbound_sweep_interval)
        gateway = app.state.gateway = Gateway(
            app.state.rasa, dispatcher, bus, replica=settings.resolved_replica_name,
            lease_seconds=lease_for(settings.rasa_timeout),
            agent_capacity=settings.agent_capacity)
        app.state.web_connections = web.WebConnections(relay=fanout)
        # KEFU_RABBITMQ_URL set: Rasa's tracker events arrive there (production profile).
        app.state.rasa_events = RasaEventConsumer(
            settings.rabbitmq_url, settings.rasa_events_queue) if settings.rabbitmq_url else None
        if app.state.rasa_events is not None:
            await app.state.rasa_events.start()
        dispatcher.register(web.WebSender(app.state.web_connections, app.state.attachment_links))
        dispatcher.register(rest.RestSender())
        app.state.telegram = None
        if settings.telegram_token:
            app.state.telegram = telegram.TelegramChannel(settings, gateway,
                                                          limits.limiters_for(app))
            dispatcher.register(app.state.telegram.sender)
            await app.state.telegram.start()
        else:
            logger.info("Telegram channel off (no KEFU_TELEGRAM_TOKEN)")
        dispatcher.start()
        # Messages stored but never answered (a crash, a long outage): bot/recovery.py.
        recovery = app.state.recovery = Recovery(
            gateway, window_minutes=settings.unanswered_window_minutes,
            interval=settings.unanswered_sweep_interval)
        recovery.start()
        try:
            yield
        finally:
            await recovery.stop()
            if app.state.telegram is not None:
                await app.state.telegram.stop()
            await dispatcher.stop()
            if app.state.rasa_events is not None:
                await app.state.rasa_events.stop()
            if fanout is not None:
                await fanout.stop()
            await app.state.rasa.aclose()

    app = FastAPI(title="Kefu gateway", lifespan=lifespan)
    app.state.settings = settings
    # Signed, expiring links to customers' files (bot/attachments.py), keyed like staff
    # sessions with the app's secret key.
    app.state.attachment_links = LinkSigner(load_secret_key(settings),
                                            settings.attachment_link_minutes)

    # Bodies are counted as they stream (chunked uploads have no Content-Length to check);
    # larger ones are refused (webhooks, REST, staff APIs): bot/limits.py. The chat's file
    # upload takes a file of KEFU_ATTACHMENT_MAX_BYTES and its form fields.
    app.add_middleware(limits.BodyLimit, max_bytes=settings.max_body_bytes,
                       larger={web.UPLOAD_PATH: settings.attachment_max_bytes + 64_000})

    errors.install(app)  # values the store cannot take: 422, not 500
    app.include_router(health.router)
    app.include_router(rest.router)
    app.include_router(telegram.router)
    app.include_router(web.router)
    app.include_router(attachments.router)  # signed links to customers' files
    staff_console.install(app)  # staff sign-in, the agent console and its API
    dashboard.install(app)  # KPIs as charts, their CSV, the not-understood inbox
    app.include_router(segments.router)  # /api/segments
    app.include_router(campaigns.router)  # /marketing, /api/campaigns
    return app
