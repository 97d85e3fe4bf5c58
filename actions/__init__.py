"""Rasa custom actions (the action server: `python -m rasa_sdk --actions actions`).

One module per topic; each action reads slots, calls a crm_store or knowledge service, chooses a
response and returns events. No SQL and no channel code here.
"""
