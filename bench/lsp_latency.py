#!/usr/bin/env python3
"""Benchmark `meshc lsp`: from didChange to publishDiagnostics over stdio.

    .venv/bin/python bench/lsp_latency.py [--lines 2000] [--edits 40] [--files 10,1]

For each layout in --files, generates a policy of about --lines lines (the
services of bench/run.py's workload, spread over that many files, plus
fleet.mesh), starts `meshc lsp` as an editor would (pygls's client over
stdin and stdout), opens one file of services and makes --edits incremental
edits to it, one at a time and 150 ms apart, alternating between an edit
that leaves the policy clean and one that introduces an error (an unknown
subset). Per edit it takes the wall time from sending didChange to
receiving the publishDiagnostics of that document version; the server's
CPU time (from /proc, Linux) shows what the machine's load adds to it.

Target (issue 12): median ≤ 150 ms for a 2,000-line policy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path
from run import fleet_source, service_source

TARGET_MS = 150.0
PAUSE = 0.15  # seconds between edits: a typing pause, so each edit is analysed on its own


def write_policy(directory: Path, lines: int, files: int) -> list[Path]:
    """fleet.mesh plus `files` files of services, about `lines` lines in all."""
    fleet = fleet_source(3)
    per_service = service_source(0).count("\n")
    services = max(files, round((lines - fleet.count("\n") - 2 * files) / per_service))
    (directory / "fleet.mesh").write_text(fleet, encoding="utf-8")
    paths = []
    for k in range(files):
        chunk = range(k * services // files, (k + 1) * services // files)
        path = directory / f"services-{k:02d}.mesh"
        path.write_text("namespace prod {\n" + "".join(service_source(i) for i in chunk) + "}\n", encoding="utf-8")
        paths.append(path)
    return paths


def cpu_seconds(pid: int) -> Optional[float]:
    """User plus system CPU time of a process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(edited: Path, edits: int) -> tuple[list[float], Optional[float]]:
    """Wall milliseconds per edit, and the server's CPU milliseconds per edit."""
    arrived: dict[int, float] = {}
    news = asyncio.Event()
    client = LanguageClient("meshc-bench", "1")
    uri = from_fs_path(str(edited))

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def published(params: types.PublishDiagnosticsParams) -> None:
        if params.uri == uri and params.version is not None:
            arrived.setdefault(params.version, time.perf_counter())
            news.set()

    async def answer(version: int) -> None:
        while version not in arrived:
            news.clear()
            await asyncio.wait_for(news.wait(), timeout=60)

    await client.start_io(sys.executable, "-m", "meshc", "lsp")
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=from_fs_path(str(edited.parent))))
    client.initialized(types.InitializedParams())
    text = edited.read_text(encoding="utf-8")
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="mesh", version=0, text=text)))
    await answer(0)

    # `to v2` of the middle service's canary route, alternately `to v3` (not a subset).
    lines = text.split("\n")
    targets = [i for i, s in enumerate(lines) if s.strip() == "to v2"]
    line = targets[len(targets) // 2]
    column = lines[line].index("v2") + 1
    pid = client._server.pid  # the server process pygls started
    cpu_before = cpu_seconds(pid)
    walls = []
    for version in range(1, edits + 1):
        await asyncio.sleep(PAUSE)
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=line, character=column),
                                  end=types.Position(line=line, character=column + 1)),
                text="3" if version % 2 else "2")]))
        await answer(version)
        walls.append((arrived[version] - sent) * 1000)
    cpu_after = cpu_seconds(pid)
    cpu = (cpu_after - cpu_before) * 1000 / edits if cpu_before is not None and cpu_after is not None else None
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return walls, cpu


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000, help="size of the policy (default 2000)")
    parser.add_argument("--edits", type=int, default=40, help="edits timed per layout (default 40)")
    parser.add_argument("--files", default="10,1",
                        help="layouts: files the services are spread over, comma-separated (default 10,1)")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows, ok = [], True
    for files in (int(n) for n in args.files.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_policy(Path(tmp), args.lines, files)
            total = sum(p.read_text(encoding="utf-8").count("\n") for p in Path(tmp).glob("*.mesh"))
            edited = paths[len(paths) // 2]
            size = edited.read_text(encoding="utf-8").count("\n")
            print(f"{files} file(s) of services: {total} lines; editing one of {size} lines", file=sys.stderr)
            walls, cpu = asyncio.run(measure(edited, args.edits))
        median = statistics.median(walls)
        ok = ok and median <= TARGET_MS
        rows.append((total, files + 1, size, median, statistics.quantiles(walls, n=10)[-1], max(walls), cpu))
    print("didChange -> publishDiagnostics, wall ms over "
          f"{args.edits} edits; server CPU ms per edit (load average {os.getloadavg()[0]:.2f})")
    print(f"  {'lines':>5} {'files':>5} {'edited':>6} {'median':>7} {'p90':>7} {'max':>7} {'cpu':>6}")
    for total, files, size, median, p90, worst, cpu in rows:
        cpu_text = f"{cpu:6.1f}" if cpu is not None else "   n/a"
        print(f"  {total:5d} {files:5d} {size:6d} {median:7.1f} {p90:7.1f} {worst:7.1f} {cpu_text}")
    for total, files, size, median, *_ in rows:
        verdict = "PASS" if median <= TARGET_MS else "FAIL"
        print(f"{verdict}  {total} lines in {files} files, editing {size} lines: median {median:.1f} ms "
              f"<= {TARGET_MS:.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
