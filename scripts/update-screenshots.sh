#!/usr/bin/env bash
# Refresh the README's screenshots from the TUI's SVG snapshots (run after
# `pytest tests/integration/tui/test_snapshots.py --snapshot-update`).
set -euo pipefail
cd "$(dirname "$0")/.."
snap=tests/integration/tui/__snapshots__/test_snapshots
cp "$snap/test_demo_livestream_ring.svg" screenshots/demo-livestream.svg
cp "$snap/test_demo_multicall.svg" screenshots/demo-multicall.svg
cp "$snap/test_ducked_room.svg" screenshots/duck-existing.svg
cp "$snap/test_rooms_160x48[4].svg" screenshots/four-rooms.svg
cp "$snap/test_ring_modal.svg" screenshots/ring.svg
cp "$snap/test_rooms_80x24[2].svg" screenshots/two-rooms-80x24.svg
cp "$snap/test_monitoring_console.svg" screenshots/monitoring-console.svg
