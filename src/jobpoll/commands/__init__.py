"""Command implementations registered on the Typer app by cli.py."""
