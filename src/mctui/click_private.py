"""The command line's one touch of a private name: click's exceptions, which typer (>= 0.20)
vendors as ``typer._click`` and does not re-export (only ``BadParameter``, ``Exit`` and
``Abort`` are public). ``cli`` catches them to print one line per error, with exit code 2 for
the user's typing. Checked at import like the media hooks (``mctui.private_names``)."""

from __future__ import annotations

import types

try:  # typer >= 0.20 vendors its own click
    from typer import _click as vendored_click

    click_exc: types.ModuleType = vendored_click.exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exc

from mctui.private_names import PrivateName, check

PRIVATE_NAMES = tuple(
    PrivateName(click_exc, name, "click_private")
    for name in ("UsageError", "NoArgsIsHelpError", "ClickException")
)
check(PRIVATE_NAMES)
