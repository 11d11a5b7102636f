"""``python -m deter``: the command-line tool."""

from .cli.entry import main

main()
