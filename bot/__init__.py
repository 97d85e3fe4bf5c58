"""The gateway: owns every customer channel and forwards messages to Rasa."""
