"""Where records live: the credentials file, the keyring, Vault, and what is left on disk."""
