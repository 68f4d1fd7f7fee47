"""A local GitHub-compatible OAuth provider on 127.0.0.1, for the demo and the tests.

A provider of its own: of the client it imports only `oauthdance.base` (HTML pages,
atomic writes), and only the demo and the tasks start it."""

from oauthdance.sandbox.model import App, Sandbox, User
from oauthdance.sandbox.server import RunningSandbox
from oauthdance.sandbox.state import StateFile

__all__ = ["App", "RunningSandbox", "Sandbox", "StateFile", "User"]
