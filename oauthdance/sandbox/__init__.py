"""A local GitHub-compatible OAuth provider on 127.0.0.1, for the demo and the tests."""

from .model import App, Sandbox, User
from .server import RunningSandbox
from .state import StateFile

__all__ = ["App", "RunningSandbox", "Sandbox", "StateFile", "User"]
