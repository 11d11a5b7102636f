"""``python -m deter``: the command-line tool."""

from .cli.app import main

main()
