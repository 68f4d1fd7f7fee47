"""A token's life once issued: find, refresh (with rotation), check, revoke and forget it;
the keeper that hands the current token to threads; `BearerAuth` for requests; and the
target (store, provider, owner) a call is about. Imports `net`, `store`, `protocol`, `base`."""
