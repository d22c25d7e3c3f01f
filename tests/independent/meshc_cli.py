"""Running meshc's command line in-process (the same entry point as the
`meshc` script) and reading its answers, for the independent tables."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from click.testing import CliRunner

from meshc.cli import cli

HERE = Path(__file__).resolve().parent
POLICIES = HERE / "policies"
SUFFIX = ".svc.cluster.local"


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


@lru_cache(maxsize=None)
def route_json(policy: str, args: tuple[str, ...]) -> dict:
    result = run("route", POLICIES / policy, *args, "--output-format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def target_key(target: dict, with_port: bool) -> str:
    host = target["host"]
    short = host[: -len(SUFFIX)] if host.endswith(SUFFIX) else host
    key = short + (f"/{target['subset']}" if target.get("subset") else "")
    return key + (f":{target['port']}" if with_port and target.get("port") is not None else "")


def shares(items: list[dict], expected: dict[str, float]) -> dict[str, float]:
    """The actual destinations (or mirrors) keyed as the expectation writes
    them: with the port when the expectation's keys have one. Shares of 0 %
    are left out (Istio sends nothing there)."""
    with_port = any(":" in k for k in expected) or not expected
    out: dict[str, float] = {}
    for item in items:
        if item["percent"] == 0:
            continue
        key = target_key(item["target"], with_port)
        out[key] = round(out.get(key, 0) + item["percent"], 6)
    return out
