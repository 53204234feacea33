"""The shape of the code, checked: import contracts, no private reaching across objects."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "mctui"


def test_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    """The contracts in pyproject.toml (engine free of UI and server, light CLI modules ...),
    checked in this process (import-linter reads the source; nothing is imported).

    import-linter configures logging as a command does, which disables every logger that
    exists (``disable_existing_loggers``): the loggers and the root's set-up are put back, or
    a later test reading logs (aiohttp's, the server's) would read nothing."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {n: (lg.disabled, lg.level) for n, lg in logging.root.manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}  # fmt: skip
    try:
        status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, (disabled, logger_level) in loggers.items():
            logger = logging.getLogger(name)
            logger.disabled, logger.level = disabled, logger_level
    report = capsys.readouterr().out
    assert status == 0, report[-3000:]
    assert "0 broken" in report


def test_call_and_client_touch_no_private_member_of_each_other():
    """``Call`` reaches its client through ``CallHost``; the client reaches calls through their
    public methods (``handle_event``, the focus levers). Nothing else."""
    call_py = (SRC / "engine" / "call.py").read_text()
    client_py = (SRC / "engine" / "client.py").read_text()
    focus_py = (SRC / "engine" / "focus.py").read_text()
    into_client = re.findall(r"self\.client\._\w+", call_py)
    into_calls = re.findall(
        r"\b(?:call|other|target|from_call|to_call)\.(?:state\.)?_\w+", client_py + focus_py
    )
    assert into_client == [] and into_calls == []


#: The modules allowed to touch other packages' private names (each declares and checks them).
PRIVATE_MODULES = {
    "rtc/hooks/consent.py", "rtc/hooks/dtls_role.py", "rtc/hooks/encode_step.py",
    "rtc/hooks/ice_policy.py", "rtc/hooks/receive_tap.py", "rtc/hooks/red_codecs.py",
    "audio/portaudio_private.py", "tui/textual_private.py", "click_private.py",
}  # fmt: skip
PRIVATE_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+(?!mctui\b)[A-Za-z0-9]+(?:\.\w+)*\._\w+|"
    r"^\s*from\s+(?!mctui\b)[A-Za-z0-9.]+\s+import\s+(?:\(?\s*)_[a-z]\w*",
    re.M,
)


def _private_names_declared() -> set[str]:
    """The private names the hook modules name, read from their source (a unit test imports
    no media stack): the quoted ``_name`` strings and the ``obj._name`` they use."""
    names: set[str] = set()
    for module in PRIVATE_MODULES:
        text = (SRC / module).read_text()
        names.update(re.findall(r"[\"'](_[A-Za-z]\w*)[\"']", text))
        names.update(re.findall(r"\b(?!self\b|cls\b)[a-z]\w*\.(_[A-Za-z]\w*)", text))
    return {name for name in names if not name.startswith("__") or name.count("__") > 1}


def test_private_names_of_other_packages_stay_in_the_hook_modules():
    """Every private name of aiortc, aioice, Textual, typer or sounddevice that mctui uses is
    declared (and checked at import) in one of ``PRIVATE_MODULES``; no other module names one
    or imports a private module of another package."""
    declared = _private_names_declared()
    assert {"_terminate", "_exit_handler", "_driver", "_handle_rtp_packet"} <= declared
    pattern = re.compile(r"\.(" + "|".join(map(re.escape, sorted(declared))) + r")\b")
    outside = {}
    for path in SRC.rglob("*.py"):
        relative = str(path.relative_to(SRC))
        if relative in PRIVATE_MODULES:
            continue
        text = path.read_text()
        found = pattern.findall(text) + PRIVATE_IMPORT.findall(text)
        if found:
            outside[relative] = found
    assert outside == {}
