"""Health gates: the PromQL meshc generates, and `meshc gate` against a real
Prometheus (Debian's `prometheus` package; skipped without it) loaded with
recorded series for a healthy candidate, a failing one and one with no data,
plus the ways a Prometheus can fail to answer."""

from __future__ import annotations

import contextlib
import json
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT

from meshc.backends import promql
from meshc.canary import gates
from meshc.canary.steps import canaries, compile_file
from meshc.cli import cli

S1 = ROOT / "examples" / "s01-canary.mesh"
HOST = "user-service.production.svc.cluster.local"

# Recorded data: 15 minutes of samples every 15s from T0; gates are queried
# at QUERY_TIME, 10 minutes in, so the 5m window is full.
T0 = 1_700_000_000
QUERY_TIME = "2023-11-14T22:23:20Z"  # T0 + 600s

POLICY = """\
# Three canaries with the same gates; Prometheus has recorded traffic for
# the candidates of `healthy` and `failing`, and none for `silent`'s.
namespace shop {
  service healthy {
    port 80 http
    subsets by version v1 v2
    route primary {
      canary v1 -> v2 steps 10% 50% 100% at 1
        pause 5m
        analysis success-rate >= 99% p99 <= 500ms
    }
  }
  service failing {
    port 80 http
    subsets by version v1 v2
    route primary {
      canary v1 -> v2 steps 10% 50% 100% at 1
        pause 5m
        analysis success-rate >= 99% p99 <= 500ms
    }
  }
  service silent {
    port 80 http
    subsets by version v1 v2
    route primary {
      canary v1 -> v2 steps 10% 50% 100% at 1
        pause 5m
        analysis success-rate >= 99% p99 <= 500ms
    }
  }
  service plain {
    port 80 http
    subsets by version v1 v2
    route primary {
      canary v1 -> v2 steps 10% 50% 100% at 1
    }
  }
}
"""


def s1_live():
    (live,) = [c for c in canaries(compile_file(str(S1)).policy) if c.info.service.name.value == "user-service"]
    return live


# ------------------------------------------------------------------ PromQL
def test_s1_gates_are_promql_over_the_candidate_for_the_pause_before_the_next_step():
    live = s1_live()
    success, latency = gates.checks(live, live.waves[0])
    labels = f'reporter="destination",destination_service="{HOST}",destination_version="v2"'
    # at 2: the pause between steps 2 and 3 is the second one, 10m
    assert success.expr == (
        f'sum(rate(istio_requests_total{{{labels},response_code!~"5.."}}[10m]))'
        f" / sum(rate(istio_requests_total{{{labels}}}[10m]))"
    )
    assert latency.expr == (
        f"histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{labels}}}[10m])))"
    )
    assert (success.threshold, success.condition) == (0.99, ">= 99%")
    assert (latency.threshold, latency.condition) == (500, "<= 500ms")


@pytest.mark.parametrize(("canary", "window"), [
    ("steps 10% 50% 100% at 1 pause 2m 7m", "2m"),
    ("steps 10% 50% 100% at 2 pause 2m 7m", "7m"),
    ("steps 10% 50% 100% at 2 pause 90s", "90s"),
    ("steps 10% 50% 100% at 0 pause 2m 7m", "5m"),   # nothing live yet: no pause before step 1
    ("steps 10% 50% 100% at 3 pause 2m 7m", "5m"),   # last step: no next one
    ("steps 10% 50% 100% at 1", "5m"),
])
def test_window_is_the_pause_before_the_next_step(tmp_path, canary, window):
    path = tmp_path / "p.mesh"
    path.write_text(f"namespace a {{ service b {{ subsets by version v1 v2 route r {{ canary v1 -> v2 {canary} }} }} }}\n")
    (live,) = canaries(compile_file(str(path)).policy)
    assert promql.window(live.canary, live.waves[0].step) == window


def test_candidate_version_is_its_version_label_or_else_its_name(tmp_path):
    path = tmp_path / "p.mesh"
    path.write_text("""namespace a {
  service b {
    subset stable { version = "1.4.0" }
    subset next { version = "1.5.0" }
    subset canary { track = "canary" }
    route r { canary stable -> next steps 50% 100% at 1 analysis p50 <= 20ms }
    route s { when header x = "1" canary stable -> canary steps 50% 100% at 1 analysis p50 <= 20ms }
  }
}
""")
    first, second = canaries(compile_file(str(path)).policy)
    assert promql.candidate_version(first.info, first.canary) == "1.5.0"
    assert promql.candidate_version(second.info, second.canary) == "canary"
    assert 'destination_version="1.5.0"' in gates.checks(first, first.waves[0])[0].expr


@pytest.mark.parametrize(("text", "seconds"), [
    ("1700000600", 1700000600.0),
    ("1700000600.5", 1700000600.5),
    ("2023-11-14T22:23:20Z", 1700000600.0),
    ("2023-11-15T06:23:20+08:00", 1700000600.0),
])
def test_time_is_unix_seconds_or_rfc3339(text, seconds):
    assert gates.parse_time(text) == seconds


@pytest.mark.parametrize("text", ["yesterday", "2023-11-14T22:23:20", "nan", "inf"])
def test_time_without_a_zone_or_not_a_time_is_refused(text):
    with pytest.raises(ValueError):
        gates.parse_time(text)


# -------------------------------------------------------- recorded series
def _series(name: str, labels: str, per_second: float) -> list[str]:
    """A counter growing at `per_second` from T0, one sample every 15s."""
    return [f"{name}{{{labels}}} {per_second * 15 * i:g} {T0 + 15 * i}" for i in range(61)]


def _traffic(service: str, version: str, ok: float, errors: float, buckets: dict[str, float],
             caller: str = "") -> list[str]:
    """Requests/s answered 200 and 500, and the request rate per latency
    bucket (cumulative, as Prometheus histograms are), from callers in the
    cluster `caller` (Istio's `source_cluster`) when given."""
    labels = (f'reporter="destination",destination_service="{service}.shop.svc.cluster.local",'
              f'destination_version="{version}"' + (f',source_cluster="{caller}"' if caller else ""))
    lines = _series("istio_requests_total", labels + ',response_code="200"', ok)
    lines += _series("istio_requests_total", labels + ',response_code="500"', errors)
    for le, rate in buckets.items():
        lines += _series("istio_request_duration_milliseconds_bucket", labels + f',le="{le}"', rate)
    return lines


def openmetrics() -> str:
    total = {"100": 20.0, "250": 20.0, "500": 20.0, "1000": 20.0, "+Inf": 20.0}
    slow = {"100": 0.0, "250": 0.0, "500": 0.0, "1000": 20.0, "+Inf": 20.0}
    lines = (
        _traffic("healthy", "v2", 19.99, 0.01, total)      # 99.95 %, p99 99ms
        + _traffic("failing", "v2", 18.0, 2.0, slow)        # 90 %, p99 995ms
        + _traffic("silent", "v1", 20.0, 0.0, total)        # only the baseline has traffic
        # a fleet canary, healthy in hangzhou's wave and failing in beijing's
        + _traffic("waved", "v2", 19.99, 0.01, total, "hangzhou")
        + _traffic("waved", "v2", 19.99, 0.01, total, "shanghai")
        + _traffic("waved", "v2", 18.0, 2.0, slow, "beijing")
    )
    return "\n".join(lines) + "\n# EOF\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    pytest.fail(f"prometheus not ready after 30s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> str:
    """A Prometheus on 127.0.0.1 serving the recorded series; stopped
    whatever happens."""
    promtool, server = shutil.which("promtool"), shutil.which("prometheus")
    if promtool is None or server is None:
        pytest.skip("Debian's prometheus package (promtool, prometheus) is not installed")
    work = tmp_path_factory.mktemp("prometheus")
    (work / "series.om").write_text(openmetrics())
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(work / "series.om"), str(work / "data")],
                   check=True, capture_output=True, timeout=60)
    (work / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")  # scrapes nothing
    port = _free_port()
    log = work / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [server, f"--storage.tsdb.path={work / 'data'}", f"--config.file={work / 'prometheus.yml'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def policy(tmp_path) -> Path:
    path = tmp_path / "shop.mesh"
    path.write_text(POLICY)
    return path


def gate(policy: Path, service: str, url: str, *extra: str):
    return CliRunner().invoke(cli, ["gate", str(policy), service, "--prometheus", url, "--time", QUERY_TIME, *extra])


def test_healthy_candidate_passes(prometheus, policy):
    result = gate(policy, "healthy", prometheus)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "shop/healthy/primary: candidate v2 (version v2) at step 1 of 3 (v1 90% / v2 10%), window 5m",
        "GATE          MEASURED  THRESHOLD  VERDICT",
        "success-rate  99.95%    >= 99%     pass",
        "p99 latency   99ms      <= 500ms   pass",
    ]
    assert result.stderr == "healthy: all 2 gates pass\n"


def test_failing_candidate_fails(prometheus, policy):
    result = gate(policy, "shop/failing", prometheus)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[2:] == [
        "success-rate  90%       >= 99%     fail",
        "p99 latency   995ms     <= 500ms   fail",
    ]
    assert result.stderr == "unhealthy: success-rate, p99 latency outside the gate\n"


def test_candidate_without_data_is_not_a_pass(prometheus, policy):
    result = gate(policy, "silent", prometheus)
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines()[2:] == [
        "success-rate  -         >= 99%     no data",
        "p99 latency   -         <= 500ms   no data",
    ]
    assert result.stderr.startswith("no data for success-rate, p99 latency:")


def test_outside_the_recorded_range_there_is_no_data(prometheus, policy):
    result = gate(policy, "healthy", prometheus, "--time", str(T0 + 86_400))
    assert result.exit_code == 2, result.output


def test_promote_require_healthy_promotes_only_a_healthy_candidate(prometheus, policy, monkeypatch):
    # --require-healthy asks about now, so ask Prometheus at the recorded time.
    real = gates.query
    monkeypatch.setattr(gates, "query", lambda url, expr, at, timeout: real(url, expr, gates.parse_time(QUERY_TIME), timeout))
    before = policy.read_text()
    failing = CliRunner().invoke(cli, ["promote", str(policy), "failing", "--require-healthy", prometheus])
    silent = CliRunner().invoke(cli, ["promote", str(policy), "silent", "--require-healthy", prometheus])
    assert (failing.exit_code, silent.exit_code) == (1, 2)
    assert "not promoted" in failing.stderr and "not promoted" in silent.stderr
    assert policy.read_text() == before
    healthy = CliRunner().invoke(cli, ["promote", str(policy), "healthy", "--require-healthy", prometheus])
    assert healthy.exit_code == 0, healthy.output
    assert "promoted healthy/primary: step 1 → 2 (v1 50% / v2 50%)\n" in healthy.stderr
    assert policy.read_text() == before.replace(
        "canary v1 -> v2 steps 10% 50% 100% at 1", "canary v1 -> v2 steps 10% 50% 100% at 2", 1)


# ------------------------------------------------------ a fleet canary
WAVED = """\
fleet prod {
  cluster hangzhou
  cluster shanghai remote of hangzhou
  cluster beijing
}
namespace shop {
  service waved {
    port 80 http
    subsets by version v1 v2
    route primary {
      canary v1 -> v2 steps 10% 50% 100%
        pause 5m
        analysis success-rate >= 99% p99 <= 500ms
        wave hangzhou at 1
        wave beijing after 1 at 1
    }
  }
}
"""


@pytest.fixture
def waved(tmp_path) -> Path:
    path = tmp_path / "policy" / "waved.mesh"
    path.parent.mkdir()
    path.write_text(WAVED)
    return path


@pytest.fixture
def at_query_time(monkeypatch):
    """Promotion measures now: make now the recorded time."""
    monkeypatch.setattr(gates, "now", lambda: float(T0 + 600))


def test_each_wave_is_measured_on_the_traffic_of_its_clusters(waved):
    live = next(canaries(compile_file(str(waved)).policy))
    first, second = live.waves
    assert (first.clusters, second.clusters) == (("hangzhou", "shanghai"), ("beijing",))
    success, _ = gates.checks(live, first)
    assert 'destination_version="v2",source_cluster=~"hangzhou|shanghai",response_code!~"5.."' in success.expr
    assert 'source_cluster="beijing"' in gates.checks(live, second)[1].expr
    named = compile_file_text(waved, WAVED.replace("  cluster beijing\n", "  cluster beijing\n  cluster-label cluster\n"))
    assert 'cluster="beijing"' in gates.checks(named, named.waves[1])[0].expr


def compile_file_text(path: Path, text: str):
    path.write_text(text)
    return next(canaries(compile_file(str(path)).policy))


def test_the_failing_wave_fails_its_gates_and_the_healthy_one_passes(prometheus, waved):
    healthy = gate(waved, "waved", prometheus, "--wave", "1")
    assert healthy.exit_code == 0, healthy.output
    assert healthy.stdout.splitlines() == [
        "shop/waved/primary, wave 1 (hangzhou, shanghai): candidate v2 (version v2) at step 1 of 3 "
        "(v1 90% / v2 10%), window 5m",
        "GATE          MEASURED  THRESHOLD  VERDICT",
        "success-rate  99.95%    >= 99%     pass",
        "p99 latency   99ms      <= 500ms   pass",
    ]
    failing = gate(waved, "waved", prometheus, "--wave", "beijing")
    assert failing.exit_code == 1, failing.output
    assert failing.stdout.splitlines()[2:] == ["success-rate  90%       >= 99%     fail",
                                               "p99 latency   995ms     <= 500ms   fail"]
    both = gate(waved, "waved", prometheus, "--output-format", "json")
    assert both.exit_code == 1
    first, second = json.loads(both.stdout)
    assert (first["wave"], first["clusters"], first["gates"][0]["measured"]) == (1, ["hangzhou", "shanghai"], 0.9995)
    assert (second["wave"], second["clusters"], second["gates"][0]["verdict"]) == (2, ["beijing"], "fail")


def test_the_healthy_wave_promotes_and_the_failing_one_is_refused(prometheus, waved, at_query_time):
    before = waved.read_text()
    refused = CliRunner().invoke(cli, ["promote", str(waved), "waved", "--wave", "2", "--require-healthy", prometheus])
    assert refused.exit_code == 1, refused.output
    assert refused.stderr.endswith("unhealthy: success-rate, p99 latency outside the gate; not promoted\n")
    fleet = CliRunner().invoke(cli, ["promote", str(waved), "waved", "--require-healthy", prometheus])
    assert fleet.exit_code == 1  # the fleet moves only if every wave that speaks for it is healthy
    assert waved.read_text() == before
    promoted = CliRunner().invoke(cli, ["promote", str(waved), "waved", "--wave", "1", "--require-healthy", prometheus])
    assert promoted.exit_code == 0, promoted.output
    assert "promoted waved/primary, wave 1 (hangzhou, shanghai): step 1 → 2 (v1 50% / v2 50%)\n" in promoted.stderr
    assert "  hangzhou, shanghai: v1 90% / v2 10% → v1 50% / v2 50%\n" in promoted.stderr
    assert waved.read_text() == before.replace("wave hangzhou at 1", "wave hangzhou at 2")


def test_a_wave_leaving_step_0_is_gated_on_the_wave_before(prometheus, waved, at_query_time):
    waved.write_text(WAVED.replace("wave beijing after 1 at 1", "wave beijing after 1"))
    result = CliRunner().invoke(cli, ["promote", str(waved), "waved", "--wave", "2", "--require-healthy", prometheus,
                                      "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("shop/waved/primary, wave 1 (hangzhou, shanghai): candidate v2")
    # a wave whose clusters have served the candidate nothing has no verdict: no promotion
    waved.write_text(WAVED.replace("  cluster beijing\n", "  cluster beijing\n  cluster shenzhen\n")
                     .replace("wave hangzhou at 1", "wave shenzhen at 1\n        wave hangzhou")
                     .replace("wave beijing after 1 at 1", "wave beijing"))
    silent = CliRunner().invoke(cli, ["promote", str(waved), "waved", "--require-healthy", prometheus])
    assert silent.exit_code == 2, silent.output
    assert "no data for success-rate, p99 latency" in silent.stderr and "not promoted" in silent.stderr


# ------------------------------------------------------ promotion commits
def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.com",
           "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.com"}
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def repo(waved, monkeypatch) -> Path:
    """A repository with the policy and its rendered tree, committed."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    root = waved.parent.parent
    monkeypatch.chdir(root)
    for name, value in [("GIT_AUTHOR_NAME", "ci"), ("GIT_AUTHOR_EMAIL", "ci@example.com"),
                        ("GIT_COMMITTER_NAME", "ci"), ("GIT_COMMITTER_EMAIL", "ci@example.com")]:
        monkeypatch.setenv(name, value)
    git(root, "init", "-q", "-b", "main")
    assert CliRunner().invoke(cli, ["render", "policy", "-o", "deploy"]).exit_code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    return root


def promote_commit(url: str, *extra: str):
    return CliRunner().invoke(cli, ["promote", "policy/waved.mesh", "waved", "--wave", "1", "--require-healthy", url,
                                    "--output", "deploy", "--commit", *extra])


def test_promote_commits_the_move_with_its_gate_evidence(prometheus, repo, at_query_time):
    result = promote_commit(prometheus)
    assert result.exit_code == 0, result.output
    assert git(repo, "status", "--porcelain") == ""
    changed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == ["deploy/hangzhou/shop/virtualservice-waved.yaml", "policy/waved.mesh"]
    assert CliRunner().invoke(cli, ["render", "policy", "-o", "deploy", "--check"]).exit_code == 0
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith(
        "promote shop/waved/primary: wave 1 (hangzhou, shanghai) step 1 -> 2 (v1 50% / v2 50%)\n\n"
        "Clusters that change:\n  hangzhou, shanghai: v1 90% / v2 10% -> v1 50% / v2 50%\n")
    trailers = [line.split(": ", 1) for line in
                subprocess.run(["git", "interpret-trailers", "--parse"], input=message, capture_output=True,
                               text=True, check=True).stdout.splitlines()]
    first_gate = trailers.index(["Gate", "success-rate, wave 1 (hangzhou, shanghai)"])
    assert trailers[:3] == [["Canary", "shop/waved/primary"],
                            ["Step", "wave 1 (hangzhou, shanghai) step 1 -> 2 (v1 50% / v2 50%)"],
                            ["Prometheus", prometheus]]
    success, query = trailers[first_gate:first_gate + 7], None
    keys = [k for k, _ in success]
    assert keys == ["Gate", "Gate-Query", "Gate-Window", "Gate-Value", "Gate-Threshold", "Gate-Time", "Gate-Verdict"]
    query = success[1][1]
    assert 'source_cluster=~"hangzhou|shanghai"' in query and "[5m]" in query
    assert [v for _, v in success[2:]] == ["5m", "0.9995", ">= 0.99", "2023-11-14T22:23:20Z", "pass"]
    latency = dict(trailers[first_gate + 7:first_gate + 14])
    assert (latency["Gate"], latency["Gate-Value"], latency["Gate-Threshold"]) == \
        ("p99 latency, wave 1 (hangzhou, shanghai)", "99 ms", "<= 500 ms")
    # the measured value is what Prometheus answers for the query in the trailer
    assert gates.query(prometheus, query, T0 + 600, 10) == pytest.approx(0.9995)


def test_promote_refuses_a_stale_rendered_tree_and_a_dirty_repository(prometheus, repo, at_query_time):
    vs = repo / "deploy" / "beijing" / "shop" / "virtualservice-waved.yaml"
    vs.write_text(vs.read_text().replace("weight: 90", "weight: 80"))
    stale = promote_commit(prometheus)
    assert stale.exit_code == 1
    assert stale.stderr.startswith("error: deploy is stale: beijing/shop/virtualservice-waved.yaml differs")
    git(repo, "checkout", "deploy")
    (repo / "policy" / "waved.mesh").write_text(WAVED + "# a note\n")
    dirty = promote_commit(prometheus)
    assert dirty.exit_code == 1 and "policy/waved.mesh has uncommitted changes" in dirty.stderr
    git(repo, "checkout", "policy")
    (repo / "notes.txt").write_text("x")
    git(repo, "add", "notes.txt")
    staged = promote_commit(prometheus)
    assert staged.exit_code == 1 and "the index has staged changes (notes.txt)" in staged.stderr
    assert git(repo, "log", "--format=%s") == "start\n"
    assert (repo / "policy" / "waved.mesh").read_text() == WAVED


def test_without_require_healthy_the_commit_says_it_was_not_gated(repo):
    result = CliRunner().invoke(cli, ["promote", "policy/waved.mesh", "waved", "--wave", "1", "--commit"])
    assert result.exit_code == 0, result.output
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["policy/waved.mesh"]
    assert git(repo, "log", "-1", "--format=%(trailers:key=Gates,valueonly)").strip() == \
        "not measured (promoted without --require-healthy)"
    rollback = CliRunner().invoke(cli, ["rollback", "policy/waved.mesh", "waved", "--commit", "--output", "deploy"])
    assert rollback.exit_code == 1 and "deploy is stale" in rollback.stderr  # the promotion above was not rendered
    assert CliRunner().invoke(cli, ["render", "policy", "-o", "deploy"]).exit_code == 0
    git(repo, "commit", "-qam", "render")
    rollback = CliRunner().invoke(cli, ["rollback", "policy/waved.mesh", "waved", "--commit", "--output", "deploy"])
    assert rollback.exit_code == 0, rollback.output
    assert git(repo, "log", "-1", "--format=%s").startswith("roll back shop/waved/primary: wave 1 (hangzhou, shanghai) "
                                                             "step 2 -> 0")


# -------------------------------------------------- Prometheus not answering
def test_canary_without_gates_has_no_verdict(policy):
    result = gate(policy, "plain", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: shop/plain/primary has no `analysis` gates: nothing to measure")
    require = CliRunner().invoke(cli, ["promote", str(policy), "plain", "--require-healthy", "http://127.0.0.1:9"])
    assert require.exit_code == 2 and "at 1" in policy.read_text()


def test_unreachable_prometheus(policy):
    url = f"http://127.0.0.1:{_free_port()}"
    result = gate(policy, "healthy", url)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: cannot reach Prometheus at {url}: Connection refused\n"


class _Server:
    """A local HTTP server answering every GET with `handler(request)`."""

    def __init__(self, respond):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                respond(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.block_on_close = False  # a handler still sleeping must not hold up the test
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _answer(status: int, body: bytes, delay: float = 0):
    def respond(request):
        time.sleep(delay)
        with contextlib.suppress(OSError):  # the client may have given up waiting
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
    return respond


@pytest.mark.parametrize(("status", "body", "message"), [
    (500, b"oops", "answered HTTP 500 Internal Server Error"),
    (400, b'{"status":"error","errorType":"bad_data","error":"parse error"}',
     "answered HTTP 400 Bad Request: parse error"),
    (200, b"<html>not prometheus</html>", "did not answer like a Prometheus HTTP API"),
    (200, b'{"status":"success","data":{"resultType":"matrix","result":[]}}', "answered a matrix, not a vector"),
    (200, b'{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"1"]}]}}',
     "answered 2 series where one was expected"),
])
def test_prometheus_errors_are_one_line_and_exit_2(policy, status, body, message):
    with _Server(_answer(status, body)) as server:
        result = gate(policy, "healthy", server.url)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_slow_prometheus_times_out(policy):
    with _Server(_answer(200, b"{}", delay=0.5)) as server:
        result = gate(policy, "healthy", server.url, "--timeout", "0.1")
    assert result.exit_code == 2
    assert result.stderr == f"error: Prometheus at {server.url} did not answer within 0.1s\n"


def test_nan_is_no_data_and_a_scalar_is_a_value(policy):
    nan = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}'
    with _Server(_answer(200, nan)) as server:
        assert gate(policy, "healthy", server.url).exit_code == 2
    scalar = b'{"status":"success","data":{"resultType":"scalar","result":[1,"0.5"]}}'
    with _Server(_answer(200, scalar)) as server:
        assert gates.query(server.url, "0.5", None, 1) == 0.5


def test_a_canary_that_cannot_be_found_gets_no_verdict(policy):
    # exit 1 would read as "unhealthy", and a job may roll back on it
    result = gate(policy, "nosuch", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert result.stderr.startswith("error[MESH701]")


def test_gate_as_json_for_ci(policy):
    answer = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.995"]}]}}'
    with _Server(_answer(200, answer)) as server:
        result = gate(policy, "healthy", server.url, "--output-format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["namespace"], report["service"], report["route"], report["step"], report["steps"]) == \
        ("shop", "healthy", "primary", 1, 3)
    assert report["window"] == "5m" and report["time"] == gates.parse_time(QUERY_TIME)
    success, latency = report["gates"]
    assert success == {"gate": "success-rate", "query": success["query"], "measured": 0.995, "threshold": 0.99,
                       "unit": "ratio", "condition": ">= 99%", "verdict": "pass"}
    assert "istio_requests_total" in success["query"]
    assert (latency["unit"], latency["threshold"], latency["verdict"]) == ("ms", 500, "pass")
    assert report["verdict"] == "healthy: all 2 gates pass" and report["exit_code"] == 0
    missing = gate(policy, "nosuch", "http://127.0.0.1:9", "--output-format", "json")
    assert missing.exit_code == 2 and json.loads(missing.stderr)[0]["code"] == "MESH701"
