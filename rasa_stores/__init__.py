"""Stores Kefu configures into Rasa (endpoints.production.yml); loaded by Rasa's process."""
