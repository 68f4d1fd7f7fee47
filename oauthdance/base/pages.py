"""Small, accessible HTML pages with no external assets: consent, device and notices."""

from __future__ import annotations

from html import escape

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1f2328}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem;"
    "border-radius:6px;border:1px solid #8c959f;cursor:pointer}"
    "button[value=approve]{background:#1f883d;color:#fff;border-color:#1f883d}"
    "label{display:block;margin:.8rem 0 .3rem}input[type=text]{font-size:1rem;padding:.3rem}"
    "code{background:#f6f8fa;padding:.1rem .3rem}"
)


def page(title: str, body_html: str) -> str:
    """A whole HTML document; `body_html` must already be escaped."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body_html}</main></body></html>\n"
    )


def consent_page(app_name: str, scopes: list[str], params: dict[str, str], login: str) -> str:
    """Authorize or Deny, as GitHub's consent screen; the user may sign in as anyone."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items()
    )
    wanted = "".join(f"<li><code>{escape(s)}</code></li>" for s in scopes) or (
        "<li>public information only</li>"
    )
    body = (
        f"<p><strong>{escape(app_name)}</strong> wants to access your account.</p>"
        f"<p>It asks for these scopes:</p><ul>{wanted}</ul>"
        '<form method="post" action="/login/oauth/authorize">'
        f"{hidden}"
        '<label for="login">Sign in as (sandbox accounts need no password)</label>'
        f'<input type="text" id="login" name="login" value="{escape(login)}" required>'
        '<p><button type="submit" name="decision" value="approve">Authorize</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></p>'
        "</form>"
    )
    return page(f"Authorize {app_name}", body)


def device_page(login: str) -> str:
    """Where the user types the code their device shows."""
    body = (
        "<p>Enter the code shown on your device.</p>"
        '<form method="post" action="/login/device">'
        '<label for="user_code">Code</label>'
        '<input type="text" id="user_code" name="user_code" autocomplete="off" required>'
        '<label for="login">Sign in as (sandbox accounts need no password)</label>'
        f'<input type="text" id="login" name="login" value="{escape(login)}" required>'
        '<p><button type="submit" name="decision" value="approve">Authorize</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></p>'
        "</form>"
    )
    return page("Device activation", body)


def notice_page(title: str, message: str, next_step: str = "") -> str:
    body = f"<p>{escape(message)}</p>"
    if next_step:
        body += f"<p>What to do next: {escape(next_step)}</p>"
    return page(title, body)
