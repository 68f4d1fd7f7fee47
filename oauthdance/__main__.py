"""`python -m oauthdance`: the `oauthdance` command."""

from oauthdance.cli import main

main()
