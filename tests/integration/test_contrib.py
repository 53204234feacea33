"""The files an operator installs (``contrib/``): the systemd unit passes ``systemd-analyze
verify``, and every option the unit and the Containerfile give ``mctui serve`` exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
MCTUI = Path(sys.executable).with_name("mctui")


def serve_options() -> set[str]:
    done = subprocess.run(
        [str(MCTUI), "serve", "--help"], capture_output=True, text=True, timeout=60,
        env={"NO_COLOR": "1", "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"--[a-z][a-z-]+", done.stdout))


def test_the_service_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/system-deps.sh test installs systemd"
    unit = (CONTRIB / "mctui.service").read_text()
    assert "/usr/local/bin/mctui" in unit
    local = tmp_path / "mctui.service"  # the same unit, with this checkout's mctui
    local.write_text(unit.replace("/usr/local/bin/mctui", str(MCTUI)))
    done = subprocess.run(
        [analyze, "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize("name", ["mctui.service", "Containerfile"])
def test_every_serve_option_they_pass_exists(name):
    text = (CONTRIB / name).read_text()
    command = (
        text.split("ExecStart=", 1)[1].split("\nKillSignal", 1)[0]
        if "ExecStart" in text
        else text.split("ENTRYPOINT", 1)[1]
    )
    given = set(re.findall(r"--[a-z][a-z-]+", command))
    assert {"--secret-file", "--tls-cert", "--metrics-port"} <= given
    assert given <= serve_options(), given - serve_options()


def test_the_readme_shows_the_nginx_site_the_lab_test_runs():
    """``tests/lab/test_two_hosts_tls.py`` runs ``contrib/nginx.conf``; the README's block is
    that file without its comment lines, and the ``mctui serve`` it names has those options."""
    site = (CONTRIB / "nginx.conf").read_text()
    body = "\n".join(line for line in site.splitlines() if not line.lstrip().startswith("#"))
    readme = (CONTRIB.parent / "README.md").read_text()
    shown = readme.split("```nginx\n", 1)[1].split("```", 1)[0]
    assert shown.strip() == body.strip()
    given = set(re.findall(r"--[a-z][a-z-]+", site.split("mctui serve", 1)[1].split("\n#\n")[0]))
    assert {"--media-host", "--trusted-proxy", "--public-url"} <= given
    assert given <= serve_options(), given - serve_options()
