"""Runs in the Rasa environment: the action server's responses are checked as strictly as
Rasa checks them, with the validator built once (rasa_channels/action_validation.py)."""

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import rasa_channels.kefu_channel  # noqa: F401 - installs the check, as Rasa's start-up does
from rasa_channels.action_validation import validate_action_result

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "order_id", "value": "A2001", "timestamp": None},
                {"event": "active_loop", "name": None}],
     "responses": [{"text": "Order A2001 shipped", "buttons": []}]},
]
INVALID = [
    {"events": [{"event": "slot", "name": 5}]},
    {"events": "not a list"},
    {"events": [], "responses": ["a text, not an object"]},
]


def test_the_kefu_channel_installs_the_check_for_every_remote_action():
    assert RemoteAction._validate_action_result is validate_action_result


@pytest.mark.parametrize("result", VALID)
def test_a_valid_response_passes_as_with_rasas_own_check(result):
    jsonschema.validate(result, RemoteAction.action_response_format_spec())
    assert RemoteAction("action_x", None)._validate_action_result(result) is True


@pytest.mark.parametrize("result", INVALID)
def test_an_invalid_response_is_refused_with_the_same_error_as_rasas_own_check(result):
    with pytest.raises(jsonschema.ValidationError) as rasas:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as ours:
        RemoteAction("action_x", None)._validate_action_result(result)
    assert ours.value.message.startswith(rasas.value.message)
    assert "Failed to validate Action server response" in ours.value.message
