"""A token's life once issued: expiry, refresh, revoke, and a refresh that must not be lost."""
