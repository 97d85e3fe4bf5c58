"""The bottom layer: settings, the shop's policy, the clock and the conventions every part of
Kefu shares (sender ids, Rasa's API paths, handoff wording). It imports nothing else of Kefu,
so any package may import it (docs/architecture.md)."""
