"""The `kefu` subcommand groups, one module per group; kefu/cli.py collects them."""
