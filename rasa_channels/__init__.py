"""Code that runs inside the Rasa server's environment (.venv-rasa): Kefu's input channel."""
