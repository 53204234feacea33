"""``python -m mctui``."""

from mctui.cli import main

main()
