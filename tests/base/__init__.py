"""The base layer: errors and the messages a user acts on, settings."""
