"""A local GitHub-compatible OAuth provider on 127.0.0.1, for the demo and the tests."""

from oauthdance.sandbox.model import App, Sandbox, User
from oauthdance.sandbox.server import RunningSandbox
from oauthdance.sandbox.state import StateFile

__all__ = ["App", "RunningSandbox", "Sandbox", "StateFile", "User"]
