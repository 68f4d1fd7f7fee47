"""Every suggested command, as data, and how each face spells it.

An error or a `next:` line names the step to run (a `Command`: the task, its flags, the
provider, the owner, the credentials location), never its spelling. The face in use
renders it: `invoke auth.login -p github` under invoke, `oauthdance auth.login -p github`
under the console script, `oauthdance.login("github")` in Python. The flags the user gave
(`-p`, `-u`, `--creds`) are carried into every suggestion made while their command runs,
so what is suggested can be pasted as it is and works on the same store.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import shlex
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from enum import Enum


class Face(Enum):
    """How the user reached us, and so how a command is spelt back to them."""

    INVOKE = "invoke"  # `invoke TASK` in a checkout with tasks.py
    CONSOLE = "oauthdance"  # the installed `oauthdance TASK` command
    PYTHON = "python"  # the Python API: notebooks and scripts


@dataclass(frozen=True)
class Asked:
    """What the user named for the command that is running: carried into suggestions."""

    face: Face = Face.INVOKE
    provider: str | None = None
    user: str | None = None
    creds: str | None = None

    @classmethod
    def of(
        cls, face: Face, provider: str | None = None, user: str | None = None, creds: object = None
    ) -> Asked:
        """What was asked, with `creds` as text (a store names its location)."""
        if creds is not None:
            creds = str(getattr(creds, "location", creds))
        return cls(face, provider, user, creds)


_OUTSIDE = Asked()  # frozen: safe to share as the default
_ASKED: ContextVar[Asked] = ContextVar("oauthdance_asked", default=_OUTSIDE)


def asked() -> Asked:
    """The face and flags of the command running in this context."""
    return _ASKED.get()


def asking(
    face: Face | None = None,
    provider: str | None = None,
    user: str | None = None,
    creds: object = None,
) -> contextlib.AbstractContextManager[Asked]:
    """Within this block, suggestions are spelt for `face` and carry these flags (given as
    the user gave them: `None` for what they did not name). Unnamed `face` keeps the
    enclosing one, so a face's entry point sets it once for every command under it."""
    return resumed(Asked.of(face or asked().face, provider, user, creds))


@contextlib.contextmanager
def resumed(now: Asked) -> Iterator[Asked]:
    """Within this block, suggestions are spelt as `now` says: an `Asked` kept by a thread
    or an object that outlives the call that made it (contextvars do not cross threads)."""
    token = _ASKED.set(now)
    try:
        yield now
    finally:
        _ASKED.reset(token)


def context_asking(now: Asked) -> contextvars.Context:
    """A context in which suggestions are spelt as `now` says, for `Context.run`: cheaper
    than entering `resumed` each time, where a generator's every step needs it."""
    context = contextvars.copy_context()
    context.run(_ASKED.set, now)
    return context


def setting(
    name: str, value: str | None = None, now: Asked | None = None, *, text: bool = False
) -> str:
    """An option as the face in use names it: `--max-pages 0` in a shell, `max_pages=0` in
    Python (`name` as Python spells it; `value` shown as the user would type it, or, with
    `text`, a string the face quotes: `user="alice"`, `--user alice`)."""
    python = (now or asked()).face is Face.PYTHON
    if value is not None and text and value != PLACEHOLDER:
        value = _py(value) if python else shlex.quote(value)
    if python:
        return name if value is None else f"{name}={value}"
    flag = "--" + name.replace("_", "-")
    return flag if value is None else f"{flag} {value}"


def program(now: Asked | None = None) -> str:
    """The command the user runs tasks with: `invoke`, or `oauthdance` (Python users too)."""
    return "invoke" if (now or asked()).face is Face.INVOKE else "oauthdance"


# Which of the shared flags each task takes: a suggestion never carries a flag its task
# would refuse (a test checks this table against the tasks themselves).
_ALL = frozenset({"provider", "user", "creds"})
TASK_FLAGS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        [
            *(f"auth.{step}" for step in "check code configure device exchange login".split()),
            *(f"auth.{step}" for step in "logout refresh revoke status token url use".split()),
            "auth.verify",
            *(f"data.{what}" for what in "fetch issues repos user".split()),
        ],
        _ALL,
    ),
    "store.copy": frozenset({"provider", "creds"}),
    "store.status": frozenset({"creds"}),
    "sandbox.serve": frozenset({"creds"}),
    "demo": frozenset({"creds"}),
}

PLACEHOLDER = "..."  # a flag value the user fills in: never quoted


@dataclass(frozen=True)
class PythonCall:
    """How the Python API spells a task: the function, the parameters it takes by position
    (in order, from the shared flags or the task's own), and the task's flags whose parameter
    is named otherwise (`auth.code --url` is `store_code(url_or_code=...)`)."""

    function: str
    positional: tuple[str, ...] = ("provider",)
    renamed: Mapping[str, str] = field(default_factory=dict)
    switches: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # flag: (name, literal)
    shared: frozenset[str] = _ALL  # the shared flags it takes (as TASK_FLAGS for tasks)

    def render(self, shared: Mapping[str, str], flags: tuple[tuple[str, str | None], ...]) -> str:
        """`oauthdance.login("github", creds="alt.json")`: the leading parameters by position
        while each is given, then the rest by name (a switch flag is `=True`)."""
        named = {name: _py(value) for name, value in shared.items()}  # Python literals
        for flag, value in flags:
            if value is None and flag in self.switches:  # `--paste` is `mode="paste"`
                name, literal = self.switches[flag]
                named[name] = literal
                continue
            name = self.renamed.get(flag, flag.replace("-", "_"))
            named[name] = "True" if value is None else _py(value)
        args = []
        for name in self.positional:
            if name not in named:
                break
            args.append(named.pop(name))
        args += [f"{name}={value}" for name, value in named.items()]
        return f"{self.function}({', '.join(args)})"


# The Python call for a task, where the API has one (a test checks each against the API's
# signatures). A task without one is suggested to a Python user as the console script,
# which works from any folder once installed.
PYTHON_CALLS: dict[str, PythonCall] = {
    **{
        f"auth.{step}": PythonCall(f"oauthdance.{step}")
        for step in "check exchange logout refresh revoke status token verify".split()
    },
    "auth.login": PythonCall(
        "oauthdance.login",
        switches={"paste": ("mode", '"paste"'), "no_browser": ("browser", "False")},
    ),
    "auth.device": PythonCall("oauthdance.device", switches={"no_browser": ("browser", "False")}),
    "auth.configure": PythonCall("oauthdance.configure", shared=frozenset({"provider", "creds"})),
    "auth.url": PythonCall("oauthdance.authorize_url"),
    "auth.code": PythonCall(
        "oauthdance.store_code",
        positional=("url_or_code",),
        renamed={"url": "url_or_code", "code": "url_or_code"},
    ),
    "auth.use": PythonCall("oauthdance.use", positional=("provider", "user")),
    "data.fetch": PythonCall("oauthdance.fetch", positional=("path",)),
}


@dataclass(frozen=True)
class Command:
    """A suggested command: the task, its own flags, and the shared flags it carries.

    `provider`, `user` and `creds` left as `None` are filled from what the user asked for
    (`Asked`); a flag's value `None` means a switch (`--paste`), `PLACEHOLDER` (`...`) a
    value for the user to fill in; other values are quoted as the face needs
    (`NAME` or `'<the redirect URL>'` read as what to put there).
    """

    task: str
    provider: str | None = None
    user: str | None = None
    creds: str | None = None
    flags: tuple[tuple[str, str | None], ...] = ()

    def with_flags(self, **flags: str | None) -> Command:
        """This command with further flags (`redirect_uri="..."` is `--redirect-uri ...`)."""
        return replace(self, flags=self.flags + tuple(flags.items()))

    def render(self, now: Asked | None = None) -> str:
        """The command as the face in use spells it, in backticks, ready to paste."""
        return f"`{self.text(now)}`"

    def text(self, now: Asked | None = None) -> str:
        """The command as the face in use spells it, bare: for a `next:` line or a page."""
        now = now or asked()
        takes = TASK_FLAGS.get(self.task, _ALL)
        given = {
            "provider": self.provider or now.provider,
            "user": self.user or now.user,
            "creds": self.creds or now.creds,
        }
        shared = {k: v for k, v in given.items() if v and k in takes}
        if now.face is Face.PYTHON and self.task in PYTHON_CALLS:
            call = PYTHON_CALLS[self.task]
            return call.render({k: v for k, v in shared.items() if k in call.shared}, self.flags)
        words = [program(now), self.task]
        for name, short in (("provider", "-p"), ("user", "-u"), ("creds", "--creds")):
            if name in shared:
                words += [short, shlex.quote(shared[name])]
        for name, value in self.flags:
            words.append("--" + name.replace("_", "-"))
            if value is not None:
                words.append(value if value == PLACEHOLDER else shlex.quote(value))
        return " ".join(words)

    def __str__(self) -> str:
        return self.render()


def _py(text: str) -> str:
    """A Python string literal, double-quoted as people write them."""
    if text == PLACEHOLDER:
        return PLACEHOLDER
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Hint:
    """What to do next: prose with commands in it (`{name}` marks where each goes).

    `Hint("run {url} again", url=Command("auth.url"))`. `for_provider` fills in the
    provider of every command that names none; `render` spells them for the face in use.
    """

    text: str
    commands: Mapping[str, Command | str] = field(default_factory=dict)

    def __init__(self, text: str, **commands: Command | str) -> None:
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "commands", dict(commands))

    def for_provider(self, provider: str | None, user: str | None = None) -> Hint:
        """The same hint with `provider` (and `user`) on every command that names none."""
        if not provider and not user:
            return self
        filled = {
            name: replace(c, provider=c.provider or provider, user=c.user or user)
            if isinstance(c, Command)
            else c
            for name, c in self.commands.items()
        }
        return Hint(self.text, **filled)

    def then(self, more: str) -> Hint:
        """The same hint with `more` prose after it."""
        return Hint(self.text + more, **self.commands)

    def with_values(self, **values: str) -> Hint:
        """The same hint with plain text for some of its fields (`{minutes}`)."""
        return Hint(self.text, **{**self.commands, **values})

    def render(self, now: Asked | None = None) -> str:
        now = now or asked()

        def spell(match: re.Match[str]) -> str:
            part = self.commands.get(match.group(1))
            if part is None:
                return match.group(0)
            return part.render(now) if isinstance(part, Command) else part

        return _FIELD.sub(spell, self.text)

    def __str__(self) -> str:
        return self.render()


def suggest(command: Command) -> Hint:
    """The hint that is the command alone: `suggest(Command("auth.login", "github"))`."""
    return Hint("{command}", command=command)


def run(task: str, **flags: str | None) -> Hint:
    """The hint that is just "run this": `run("auth.login")`."""
    return Hint("run {command}", command=Command(task).with_flags(**flags))
