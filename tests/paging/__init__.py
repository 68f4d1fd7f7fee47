"""Paginated fetching: the engine, the data tasks against the sandbox, the writers."""
