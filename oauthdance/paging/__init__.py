"""Paginated fetching: the engine (pages in order, sent ahead, one rate-limit gate), the
ETag cache, the writers and progress. Imports `keep`, `net`, `protocol`, `base`."""
