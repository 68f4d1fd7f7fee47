"""oauthdance: OAuth 2.0 user access tokens for data projects, over one credentials file.

The steps live in `oauthdance.flow`, the file in `oauthdance.store`, providers in
`oauthdance.providers`, the local provider in `oauthdance.sandbox`.
"""

__version__ = "0.1.0"
