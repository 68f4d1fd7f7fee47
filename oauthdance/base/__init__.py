"""What every layer stands on: errors and exit codes, settings, codecs, HTML pages, atomic
writes. Imports nothing of oauthdance."""
