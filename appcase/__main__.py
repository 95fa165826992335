"""``python -m appcase``: the command line."""

from appcase.cli import main

main()
