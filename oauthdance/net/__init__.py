"""Everything that sends: the calls to authorization servers and user endpoints (prepare,
send, parse), requests sessions with our timeouts and no redirects for secrets, and the
urllib3 transport the fetch engine's pages go over. Imports `protocol` and `base`."""
