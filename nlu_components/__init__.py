"""Custom Rasa components for Kefu's NLU pipeline (loaded by `rasa` from the repository root)."""
