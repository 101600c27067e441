"""Command-line interface: one thin module per command, each calling only the public API."""
