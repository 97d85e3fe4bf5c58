"""`GET /attachments/{id}`: the bytes of a customer's photo or file, for a signed link only.

Links are made by bot/attachments.py `LinkSigner` for one viewer: `c<conversation id>` (the
customer's chat widget; the file must belong to that conversation) or `s<staff id>` (the
agent console; the request must come from that member of service staff, signed in). An
expired or altered link: 403. A file of another conversation: 404.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response

from bot import store
from bot.attachments import LinkSigner, file_store
from bot.auth import SERVICE_ROLES, require_staff
from crm_store.errors import NotFound
from crm_store.services import attachments as service

router = APIRouter(tags=["attachments"])


def _read(attachment_id: int, files: service.FileStore):
    def work(session) -> tuple[int, str, str, bytes]:
        row = service.get(session, attachment_id)
        return row.conversation_id, row.content_type, row.original_name, files.read(row.sha256)
    return work


@router.get("/attachments/{attachment_id}", responses={
    403: {"description": "expired or altered link, or not the viewer it was made for"},
    404: {"description": "no such file for this link"}})
async def get_attachment(
    attachment_id: int, request: Request,
    v: Annotated[str, Query(pattern=r"^[cs]\d{1,18}$")],
    exp: Annotated[int, Query(ge=0)],
    sig: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> Response:
    signer: LinkSigner = request.app.state.attachment_links
    if not signer.valid(attachment_id, v, exp, sig):
        raise HTTPException(403, "this link has expired or is not valid; reload the page "
                                 "for a new one")
    if v.startswith("s"):
        staff = await require_staff(*SERVICE_ROLES)(request)
        if staff.id != int(v[1:]):
            raise HTTPException(403, "this link was made for someone else")
    try:
        conversation_id, content_type, name, data = await store.run(
            _read(attachment_id, file_store(request.app.state.settings)))
    except NotFound:
        raise HTTPException(404, "no such file") from None
    if v.startswith("c") and conversation_id != int(v[1:]):
        raise HTTPException(404, "no such file")
    disposition = "inline" if content_type.startswith("image/") else "attachment"
    filename = name or f"attachment-{attachment_id}"
    return Response(data, media_type=content_type, headers={
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
        # Never run as a page, whatever a file holds.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=300",
    })
