"""`python -m oauthdance`: the `oauthdance` command."""

from .cli import main

main()
