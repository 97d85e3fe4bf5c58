"""Kefu: the command line, the settings and the process supervisor shared by all parts."""
