"""The invoke tasks: flags, help, settings from invoke's config, what the invoke face prints."""
