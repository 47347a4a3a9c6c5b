"""``python -m pixembed`` runs the CLI."""

from pixembed.cli import main

main()
