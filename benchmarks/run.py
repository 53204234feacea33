"""``make bench``: run every benchmark, write one JSON results file and the Markdown table.

Results go to ``benchmarks/results/<date>-<host>.json``; the table replaces the block between
the ``bench:start`` / ``bench:end`` markers in README.md.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parent
RUNS: list[tuple[str, list[str]]] = [
    ("focus_switch", ["focus_switch.py", "200"]),
    ("join_latency", ["join_latency.py", "30"]),
    ("mouth_to_ear", ["mouth_to_ear.py", "40"]),
    ("capacity", ["capacity.py", "4", "6"]),
    ("tui", ["tui_cost.py", "5", "50"]),
    ("sfu", ["sfu_cpu.py", "6", "4"]),
    ("network", ["network.py", "20", "0,0.05,0.1,0.2"]),
    ("recovery", ["recovery.py", "10", "10"]),
    ("echo", ["echo.py"]),
]


def run(name: str, args: list[str]) -> dict[str, Any]:
    print(f"running {name} ...", file=sys.stderr, flush=True)
    result = subprocess.run(
        [sys.executable, str(HERE / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=HERE,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        print(result.stderr[-2000:], file=sys.stderr)
        return {"error": f"exit {result.returncode}"}
    record = json.loads(lines[-1])
    return dict(record.get(name, {}))


def table(results: dict[str, Any]) -> str:
    def g(section: str, key: str) -> Any:
        value = results.get(section, {}).get(key)
        return "n/a" if value is None else value

    def sfu_row(r: dict[str, Any]) -> str:
        flowing = r.get("streams_flowing", r["streams"])
        tail = "" if flowing == r["streams"] else f" ({flowing} of {r['streams']} flowing)"
        return f"{r['participants']}: {r['cpu_percent']} %{tail}"

    sfu_rows = ", ".join(sfu_row(r) for r in results.get("sfu", {}).get("rows", []))
    focus = f"p50 {g('focus_switch', 'p50_ms')} ms, p99 {g('focus_switch', 'p99_ms')} ms"
    steps = results.get("join_latency", {}).get("breakdown_p50_ms", {})
    janus_join = results.get("join_latency", {}).get("janus", {})
    join = (
        f"to the first packet: p50 {g('join_latency', 'p50_ms')} ms, p99 "
        f"{g('join_latency', 'p99_ms')} ms; bare aiortc (same connection class and policy, same "
        f"stop) p50 {g('join_latency', 'baseline_p50_ms')} ms (x{g('join_latency', 'ratio_p50')})"
        + (
            "; where it goes (p50, ms from join): "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in steps.items())
            if steps
            else ""
        )
        + (
            f"; on Janus (one instance, across the lab's link): p50 {janus_join['p50_ms']} ms, "
            f"p99 {janus_join['p99_ms']} ms"
            if "p50_ms" in janus_join
            else ""
        )
    )
    m2e = (
        f"median {g('mouth_to_ear', 'median_ms')} ms, p99 {g('mouth_to_ear', 'p99_ms')} ms, "
        f"clicks lost {g('mouth_to_ear', 'clicks_lost')} of {g('mouth_to_ear', 'clicks')}"
    )
    net = results.get("network", {})
    path_delay = 2 * int(net.get("delay_ms", 0))  # talker -> SFU -> listener: two hops
    loss_rows = [
        (
            f"{r['loss_percent']} % loss each way, {net.get('delay_ms')}±{net.get('jitter_ms')} ms",
            f"mouth-to-ear median {r['mouth_to_ear'].get('p50_ms', 'n/a')} ms "
            f"(p99 {r['mouth_to_ear'].get('p99_ms', 'n/a')}); frames played "
            f"{r['frames_played_percent']} % ({r['frames_concealed_percent']} % concealed)"
            + (f"; {r['error']}" if r.get("error") else ""),
            f"m2e <= {path_delay} + 60 ms"
            + ("; >= 97 % played" if r["loss_percent"] <= 10 else ""),
            _verdict(
                not r.get("error")
                and _le(r["mouth_to_ear"].get("p50_ms"), path_delay + 60)
                and (r["loss_percent"] > 10 or _ge(r["frames_played_percent"], 97))
            ),
        )
        for r in net.get("rows", [])
    ]
    trickle = net.get("join_trickle", {})
    full = net.get("join_full_sdp", {})
    join_ice = (
        f"trickle p50 {trickle.get('p50_ms', 'n/a')} ms; full SDP (gather first) p50 "
        f"{full.get('p50_ms', 'n/a')} ms"
    )
    capacity = (
        f"knee {g('capacity', 'max_rooms')} rooms x 3 speakers (every stream flowing, no late "
        f"frame; swept by doubling, then bisecting); client CPU there "
        f"{g('capacity', 'cpu_percent')} %; bare aiortc knee in one process: "
        f"{g('capacity', 'baseline_max_pairs')} pairs"
    )
    tui_rows = results.get("tui", {}).get("rows", [])

    def tui_row(r: dict[str, Any]) -> tuple[str, str, str, str]:
        goal_cpu = 5 if r["speakers"] == 1 else 10
        result = (
            f"UI's own CPU {r['ui_cpu_percent']} % of a core (TUI process "
            f"{r['tui_process_cpu_percent']} %, the same join headless {r['floor_cpu_percent']} "
            f"%); frame work p50 {r['frame_work_p50_ms']} ms, p95 {r['frame_work_p95_ms']} ms "
            f"({r['frames_per_s']} frames/s; level read to bytes p95 "
            f"{r['pull_to_bytes_p95_ms']} ms); {r['layouts_per_s']} layouts/s; "
            f"{round(r['bytes_per_s'] / 1000, 1)} kB/s to the terminal"
        )
        flowing = r["streams_flowing"] >= r["streams_expected"]
        if not flowing:
            result += (
                f"; **not valid: {r['streams_flowing']} of {r['streams_expected']} streams flowed**"
            )
        return (
            f"TUI: {r['rooms']} rooms x {r['speakers']} speaking, {r['size']}",
            result,
            f"UI CPU <= {goal_cpu} %, frame p95 <= 10 ms, 0 layouts/s",
            _verdict(
                flowing
                and _le(r["ui_cpu_percent"], goal_cpu)
                and _le(r["frame_work_p95_ms"], 10)
                and r["layouts_per_s"] == 0
            ),
        )

    tab = results.get("tui", {}).get("tab", {})
    floor_rows = [r for r in tui_rows if r["size"] == "160x48"]
    floor = "; ".join(
        f"{r['rooms']} x {r['speakers']}: {r['floor_cpu_percent']} % "
        f"({r['floor_per_room_percent']} % per room, {r['floor_per_stream_percent']} % per stream)"
        for r in floor_rows
    )
    best_stream = min((r["floor_per_stream_percent"] for r in floor_rows), default=None)
    sfu = (
        f"knee {g('sfu', 'knee_participants')} participants in one room (every stream flowing, "
        f"server at {g('sfu', 'cpu_percent_at_knee')} % of a core, "
        f"{g('sfu', 'cpu_percent_per_participant')} % per participant there); light load "
        f"clients in {g('sfu', 'load_processes_at_knee')} processes used "
        f"{g('sfu', 'load_cpu_percent_at_knee')} % CPU; swept: {sfu_rows}"
    )
    janus = results.get("sfu", {}).get("janus", {})
    if janus.get("rows"):
        janus_rows = ", ".join(sfu_row(r) for r in janus["rows"])
        sfu += (
            f". **Janus** (one instance, same harness): knee {janus.get('knee_participants')} "
            f"participants, Janus at {janus.get('cpu_percent_at_knee')} % of a core "
            f"({janus.get('cpu_percent_per_participant')} % per participant), the load clients "
            f"at {janus.get('load_cpu_percent_at_knee')} % in "
            f"{janus.get('load_processes_at_knee')} processes; swept: {janus_rows}"
        )
    elif janus.get("error"):
        sfu += f". Janus: not measured ({janus['error']})"
    rows = [
        ("focus switch", focus, "p99 <= 20 ms", _verdict(_le(g("focus_switch", "p99_ms"), 20))),
        (
            "join latency", join, "p50 <= 150 ms and <= 1.1x",
            _verdict(
                _le(g("join_latency", "p50_ms"), 150) and _le(g("join_latency", "ratio_p50"), 1.1)
            ),
        ),
        (
            "mouth-to-ear", m2e, "<= 100 ms median, no click lost",
            _verdict(
                _le(g("mouth_to_ear", "median_ms"), 100) and g("mouth_to_ear", "clicks_lost") == 0
            ),
        ),
        ("capacity", capacity, "N >= 16", _verdict(_ge(g("capacity", "max_rooms"), 16))),
        *[tui_row(r) for r in tui_rows],
        (
            "Tab through the app to a clean speaker", f"p50 {tab.get('p50_ms', 'n/a')} ms, p99 "
            f"{tab.get('p99_ms', 'n/a')} ms; the first frame after the key clean: "
            f"{tab.get('first_frame_clean', 'n/a')}", "p99 <= 40 ms",
            _verdict(_le(tab.get("p99_ms"), 40)),
        ),
        (
            "engine floor: the same join headless", floor or "n/a", "<= 0.7 % per stream",
            _verdict(_le(best_stream, 0.7)),
        ),
        ("SFU: one room on one core", sfu, "report the knee (<= 80 % of a core)", "report"),
        *loss_rows,
        (
            "join -> first audio, STUN server answering in 300 ms", join_ice,
            "trickle < full SDP",
            _verdict(_le(trickle.get("p50_ms"), full.get("p50_ms", 0) - 1e-9)),
        ),
    ]  # fmt: skip
    recovery = results.get("recovery", {})
    restart, hole = recovery.get("restart", {}), recovery.get("blackhole", {})
    rows.append(
        (
            "recovery: audio back after the path returns (median of "
            f"{recovery.get('runs', 'n/a')})",
            f"server SIGKILLed and restarted: p50 {restart.get('p50_ms', 'n/a')} ms, max "
            f"{restart.get('max_ms', 'n/a')} ms; {hole.get('blackhole_s', 'n/a')} s blackhole: "
            f"p50 {hole.get('p50_ms', 'n/a')} ms, max {hole.get('max_ms', 'n/a')} ms",
            "<= 1 s",
            _verdict(_le(restart.get("p50_ms"), 1000) and _le(hole.get("p50_ms"), 1000)),
        )
    )
    rows.extend(_echo_rows(results.get("echo", {})))
    machine = results["machine"]
    dates = sorted(set(results.get("measured", {}).values())) or [results["date"]]
    when = (
        dates[0]
        if len(dates) == 1
        else ", ".join(
            f"{d} ({', '.join(sorted(k for k, v in results['measured'].items() if v == d))})"
            for d in dates
        )
    )
    lines = [
        f"Machine: {machine['platform']}, {machine['cores']} cores, Python {machine['python']}."
        f" Measured: {when}.",
        "",
        "| benchmark | result | goal | verdict |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
    ]
    for name, _result, goal, verdict in rows:
        print(f"{verdict.strip('*'):>6}  {name}: {goal}", file=sys.stderr)
    return "\n".join(lines)


def _echo_rows(echo: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The echo canceller: the synthetic rooms (frame by frame) and the real call."""
    rooms = echo.get("rooms", [])
    if not rooms:
        return [("echo cancellation", f"not measured ({echo.get('error', 'no result')})", "", "")]
    erle = [r["erle_after_3s_db"] for r in rooms]
    back = [r["reconverged_after_jump_s"] for r in rooms]
    level = [r["double_talk_level_db"] for r in rooms]
    corr = [r["double_talk_envelope_correlation"] for r in rooms]
    cpu = [r["cpu_ms_per_frame"] for r in rooms]
    call = echo.get("call", {})
    spread = f"{len(rooms)} rooms, 40-150 ms, -6 to -12 dB"
    return [
        (
            "echo: ERLE after 3 s, single talk",
            f"{min(erle)}-{max(erle)} dB ({spread}); real call through the SFU "
            f"{call.get('erle_after_3s_db', 'n/a')} dB",
            ">= 30 dB",
            _verdict(min(erle) >= 30 and _ge(call.get("erle_after_3s_db"), 30)),
        ),
        (
            "echo: back after a 60 ms jump of the echo path",
            f"{min((b for b in back if b is not None), default='n/a')}-"
            f"{max((b for b in back if b is not None), default='n/a')} s"
            + ("" if None not in back else f" ({back.count(None)} never)"),
            "<= 2 s",
            _verdict(None not in back and max(back) <= 2),
        ),
        (
            "echo: double talk, the near talker against a no-echo run",
            f"level {min(level):+}..{max(level):+} dB, envelope correlation {min(corr)}-"
            f"{max(corr)}; real call {call.get('double_talk_level_db', 'n/a')} dB, "
            f"{call.get('double_talk_envelope_correlation', 'n/a')}",
            "within 3 dB, >= 0.9",
            _verdict(max(abs(x) for x in level) <= 3 and min(corr) >= 0.9),
        ),
        (
            "echo: APM CPU",
            f"{min(cpu)}-{max(cpu)} ms per 20 ms frame (offline); "
            f"{call.get('cpu_ms_per_frame', 'n/a')} ms in the real call",
            "report",
            "report",
        ),
    ]


def _le(value: Any, limit: float) -> bool:
    return isinstance(value, int | float) and value <= limit


def _ge(value: Any, limit: float) -> bool:
    return isinstance(value, int | float) and value >= limit


def _verdict(ok: Any) -> str:
    return "pass" if ok else "**miss**"


def main() -> None:
    import os

    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": {
            "host": platform.node(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cores": os.cpu_count(),
        },
    }
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    names = {name for name, _ in RUNS}
    results["measured"] = {}
    mine = sorted((HERE / "results").glob(f"*-{platform.node()}.json"))
    if only and mine:  # re-run one benchmark, keep the others from this host's latest file
        previous = json.loads(mine[-1].read_text())
        for name in names & previous.keys():
            results[name] = previous[name]
            results["measured"][name] = previous.get("measured", {}).get(name, previous["date"])
    for name, args in RUNS:
        if only is None or name == only:
            results[name] = run(name, args)
            results["measured"][name] = results["date"]
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{results['date']}-{platform.node()}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    markdown = table(results)
    (out_dir / "latest.md").write_text(markdown + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text()
    block = f"<!-- bench:start -->\n{markdown}\n<!-- bench:end -->"
    if "<!-- bench:start -->" in text:
        text = re.sub(r"<!-- bench:start -->.*<!-- bench:end -->", block, text, flags=re.S)
        readme.write_text(text)
    print(json.dumps(results, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
