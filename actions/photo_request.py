"""Asking for a photo of a damaged or wrong item, once the complaint or return is open
(crm_store/services/evidence.py decides when and links what is sent)."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

# The button answers like a typed "no": the rules after opening a complaint or a return
# take /deny as "nothing more" (data/rules/).
NO_PHOTO_BUTTON = {"title": "No photo", "payload": "/deny"}


def ask_for_photo(dispatcher: CollectingDispatcher, case: str, *, button: bool = True) -> None:
    """`case`: "complaint T-1001", "return R-7". `button`: False when the next message
    already offers a "no" of its own."""
    text = (f"If you can, send a photo of it here (the paper clip 📎 beside the message box) "
            f"and I'll add it to {case} — it helps our team sort it out faster. "
            "No photo? That's fine too.")
    dispatcher.utter_message(text=text, buttons=[NO_PHOTO_BUTTON] if button else [])


def photos_added(dispatcher: CollectingDispatcher, case: str, content_types: list[str]) -> None:
    """Said when photos/files the chat sent before the case was opened were added to it."""
    photos = all(kind.startswith("image/") for kind in content_types)
    noun = "photo" if photos else "file"
    what = f"the {noun}" if len(content_types) == 1 else f"the {len(content_types)} {noun}s"
    dispatcher.utter_message(text=f"I've added {what} you sent to {case}.")
