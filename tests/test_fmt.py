"""`meshc fmt`: the canonical layout (meshc/language/fmt.py's rules), its safety
checks, the command, and hypothesis properties over generated trees.

Expected outputs are written out in full; a change to one is a change to the
layout policy and should be reviewed as such.
"""

from __future__ import annotations

import os
import stat
import textwrap
from collections import Counter

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from strategies_syntax import PATH, files, sources

from meshc.cli import cli
from meshc.language import fmt
from meshc.language import syntax as s
from meshc.language.fmt import (
    FormatError,
    InternalFormatError,
    format_text,
    normalised,
    print_tree,
    without_spans,
)
from meshc.language.lower import lower
from meshc.language.parse import parse
from meshc.language.source import SourceFile


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def check_format(source: str, expected: str) -> None:
    """`source` formats to `expected`, which is a fixed point, with the same comments."""
    out = format_text(source, "t.mesh")
    assert out == expected
    assert format_text(out, "t.mesh") == out
    assert comment_texts(out) == Counter(c.rstrip() for c in comment_texts(source).elements())


def comment_texts(text: str) -> Counter:
    tree, _ = parse(SourceFile("t.mesh", text))
    return Counter(c.text for c in tree.comments)


# ------------------------------------------------------------- layout
EVERY_CONSTRUCT = dedent(r"""
    # policy for the demo mesh
    fleet prod {
    cluster hangzhou  region cn-east   zone cn-east-a   network net-1 gateway 10.0.0.1 istio 1.22
       dns-proxying
       cluster beijing region cn-north
     cluster shanghai  remote  of hangzhou zone cn-east-b
    }
    namespace production {
      mtls strict
      mtls permissive for legacy-app
      allow api-gateway from principal "cluster.local/ns/production/sa/api" "cluster.local/ns/x/sa/y" to GET POST "/api/v1/*"
      allow billing from namespace monitoring ops to "/metrics"
      allow open
      defaults { lb least-request failover priority network region = cn-east cluster=hangzhou version="v1" circuit-breaker { max-connections 100 connect-timeout 30ms max-pending 10 max-requests 20 max-requests-per-connection 1 max-retries 3 idle-timeout 1h eject 3 consecutive 5xx every 30s for 30s max 50% } }
      gateway main-gateway {
        hosts api.example.com *
        https port 8443 credential tls-credential
        http port 8080
        redirect-http
        selector istio = ingressgateway
        host api.example.com {   cors origins "https://app.example.com" methods GET
          route edge { when path ^= "/api" or header x-api = "1" to service user-service 90%, service billing in payments subset v1 port 8080 10%
            mirror service shadow 5% rewrite path "/"   on beijing { timeout 40s } }
          route rest {to service user-service}
        }
        host * {}
      }
      gateway plain { http }
      external api.external.com cdn.external.com port 443 https port 80 http
      service user-service {
        port 80 http { lb random }
        port 9090 grpc  name grpc-api
        port 8080 http2 {}
        local
        subsets by version v1 v2
        subset blue { color = blue }
        subset green { color = green in beijing }
        subset v1 { tls istio-mutual }
        in hangzhou beijing
        expose via main-gateway host api.example.com when path ^= "/api/v1/users" or header x-api-version = "v1" and method = GET
        route matching {
          when header canary = "true" and cookie user = "x" or header x-debug absent and query q ~ "\d+" and port 8080 and source app = web and from namespace ops or from cluster beijing
          to v2 , service billing in payments subset v1 port 8080 90%,v1 rest
        }
        route primary {
          canary v1 -> v2 steps 5% 10% 100% at 2 pause 5m 10m analysis success-rate >= 99% p99 <= 500ms
          timeout 10s
          retry 3 per-try 2s on connect-failure 503
          fault delay 5s 0.1%
          fault abort 503 1%
          rewrite path "/v2/"
          cors origins "https://a.example.com" methods GET POST headers content-type expose-headers x-trace max-age 24h credentials
          mirror service shadow 20%
          mirror v2
          on beijing { timeout 20s retry off }
        }
        route bg { blue-green active blue preview green }
        on beijing { lb hash header x-user }
        on hangzhou { lb hash source-ip }
        on shanghai { lb hash query uid }
        on shenzhen { lb hash cookie session ttl 1h tls disable }
        failover cn-east ->cn-north,cn-north -> cn-east
        distribute cn-east/* -> cn-east/* 80%, cn-north/* 20%
      }
    }
""")

EVERY_CONSTRUCT_FORMATTED = dedent(r"""
    # policy for the demo mesh
    fleet prod {
      cluster hangzhou region cn-east zone cn-east-a network net-1 gateway 10.0.0.1 istio 1.22
      dns-proxying
      cluster beijing region cn-north
      cluster shanghai remote of hangzhou zone cn-east-b
    }

    namespace production {
      mtls strict
      mtls permissive for legacy-app
      allow api-gateway from principal "cluster.local/ns/production/sa/api" "cluster.local/ns/x/sa/y" to GET POST "/api/v1/*"
      allow billing from namespace monitoring ops to "/metrics"
      allow open
      defaults {
        lb least-request
        failover priority network region=cn-east cluster=hangzhou version="v1"
        circuit-breaker {
          max-connections 100
          connect-timeout 30ms
          max-pending 10
          max-requests 20
          max-requests-per-connection 1
          max-retries 3
          idle-timeout 1h
          eject 3 consecutive 5xx every 30s for 30s max 50%
        }
      }
      gateway main-gateway {
        hosts api.example.com *
        https port 8443 credential tls-credential
        http port 8080
        redirect-http
        selector istio = "ingressgateway"
        host api.example.com {
          cors origins "https://app.example.com" methods GET
          route edge {
            when path ^= "/api" or header x-api = "1"
            to service user-service 90%, service billing in payments subset v1 port 8080 10%
            mirror service shadow 5%
            rewrite path "/"
            on beijing { timeout 40s }
          }
          route rest { to service user-service }
        }
        host * {}
      }
      gateway plain { http }
      external api.external.com cdn.external.com port 443 https port 80 http
      service user-service {
        port 80 http { lb random }
        port 9090 grpc name grpc-api
        port 8080 http2 {}
        local
        subsets by version v1 v2
        subset blue { color = "blue" }
        subset green {
          color = "green"
          in beijing
        }
        subset v1 { tls istio-mutual }
        in hangzhou beijing
        expose via main-gateway host api.example.com when path ^= "/api/v1/users" or header x-api-version = "v1" and method = GET
        route matching {
          when header canary = "true" and cookie user = "x" or header x-debug absent and query q ~ "\d+" and port 8080 and source app = "web" and from namespace ops or from cluster beijing
          to v2, service billing in payments subset v1 port 8080 90%, v1 rest
        }
        route primary {
          canary v1 -> v2 steps 5% 10% 100% at 2
            pause 5m 10m
            analysis success-rate >= 99% p99 <= 500ms
          timeout 10s
          retry 3 per-try 2s on connect-failure 503
          fault delay 5s 0.1%
          fault abort 503 1%
          rewrite path "/v2/"
          cors origins "https://a.example.com" methods GET POST headers content-type expose-headers x-trace max-age 24h credentials
          mirror service shadow 20%
          mirror v2
          on beijing {
            timeout 20s
            retry off
          }
        }
        route bg { blue-green active blue preview green }
        on beijing { lb hash header x-user }
        on hangzhou { lb hash source-ip }
        on shanghai { lb hash query uid }
        on shenzhen {
          lb hash cookie session ttl 1h
          tls disable
        }
        failover cn-east -> cn-north, cn-north -> cn-east
        distribute cn-east/* -> cn-east/* 80%, cn-north/* 20%
      }
    }
""")


def test_every_construct():
    check_format(EVERY_CONSTRUCT, EVERY_CONSTRUCT_FORMATTED)


def test_every_construct_keeps_its_meaning():
    before, _ = lower([parse(SourceFile("t.mesh", EVERY_CONSTRUCT))[0]])
    after, _ = lower([parse(SourceFile("t.mesh", EVERY_CONSTRUCT_FORMATTED))[0]])
    assert before is not None
    assert without_spans(after.model_dump()) == without_spans(before.model_dump())


def _service(body: str) -> str:
    return f"namespace n {{\n  service api {{\n{textwrap.indent(dedent(body), '    ')}  }}\n}}\n"


CASES = {
    # Rule 2: one statement, no block, no comment, fits: one line.
    "one-statement-block-collapses": (
        "namespace n {\n  service api {\n    route r {\n      timeout 5s\n    }\n  }\n}\n",
        _service("route r { timeout 5s }\n"),
    ),
    "two-statements-expand": (
        _service("route r { when method = GET to v1 }\n"),
        _service("""
            route r {
              when method = GET
              to v1
            }
        """),
    ),
    "nested-block-never-collapses": (
        "namespace n { defaults { circuit-breaker { max-connections 1 } } }\n",
        dedent("""
            namespace n {
              defaults {
                circuit-breaker { max-connections 1 }
              }
            }
        """),
    ),
    "multi-line-statement-never-collapses": (
        _service("route r { canary a -> b steps 50% pause 1m }\n"),
        _service("""
            route r {
              canary a -> b steps 50%
                pause 1m
            }
        """),
    ),
    "empty-blocks": (
        "namespace n { service api {\n\n}  service b { port 80 http { } } }\n",
        dedent("""
            namespace n {
              service api {}
              service b {
                port 80 http {}
              }
            }
        """),
    ),
    "empty-namespace": ("namespace n {}", "namespace n {}\n"),
    "canary-without-clauses-is-one-line": (
        _service("route r {\n  canary v1 -> v2 steps 10% 100%\n}\n"),
        _service("route r { canary v1 -> v2 steps 10% 100% }\n"),
    ),
    "canary-analysis-only": (
        _service("route r {\n  canary v1 -> v2 steps 10% at 1 analysis p50 <= 1s\n  timeout 1s\n}\n"),
        _service("""
            route r {
              canary v1 -> v2 steps 10% at 1
                analysis p50 <= 1s
              timeout 1s
            }
        """),
    ),
    # Rule 3.
    "commas-stick-to-the-token-before": (
        _service("route r { to v1 90% ,v2 10% }\nfailover a ->b , b -> c\n"),
        _service("route r { to v1 90%, v2 10% }\nfailover a -> b, b -> c\n"),
    ),
    # Rule 5: label values quoted; every other token as written.
    "label-values-are-quoted": (
        dedent(r"""
            namespace n {
              gateway g { selector app = ingress }
              service api {
                subset blue { color = blue tier = "front-end" }
                route r { when source app = web to blue }
              }
            }
        """),
        dedent(r"""
            namespace n {
              gateway g { selector app = "ingress" }
              service api {
                subset blue {
                  color = "blue"
                  tier = "front-end"
                }
                route r {
                  when source app = "web"
                  to blue
                }
              }
            }
        """),
    ),
    "tokens-print-as-written": (
        _service(r"""
            route r {
              when header x = "a \"quoted\" \\ # not a comment" and path ~ "/v[0-9]+/\d"
              fault delay 0500ms 07.50%
              timeout 1.5s
            }
        """),
        _service(r"""
            route r {
              when header x = "a \"quoted\" \\ # not a comment" and path ~ "/v[0-9]+/\d"
              fault delay 0500ms 07.50%
              timeout 1.5s
            }
        """),
    ),
    # Rule 6.
    "top-level-items-one-blank-line-apart": (
        "fleet f { cluster a }\nnamespace a { mtls strict }\n\n\n\nnamespace b { mtls strict }",
        "fleet f { cluster a }\n\nnamespace a { mtls strict }\n\nnamespace b { mtls strict }\n",
    ),
    "blank-lines-kept-collapsed-and-trimmed": (
        dedent("""
            namespace n {


              mtls strict



              mtls permissive for a
              mtls disable for b

            }
        """),
        dedent("""
            namespace n {
              mtls strict

              mtls permissive for a
              mtls disable for b
            }
        """),
    ),
    "blank-lines-inside-a-statement-dropped": (
        _service("route r {\n  canary a -> b steps 50%\n\n  pause 1m\n\n  analysis p99 <= 1s\n}\n"),
        _service("""
            route r {
              canary a -> b steps 50%
                pause 1m
                analysis p99 <= 1s
            }
        """),
    ),
    # Rule 7.
    "own-line-comments-take-the-next-statements-indentation": (
        "namespace n {\n# about mtls\n        mtls strict\n      # closing\n}\n",
        "namespace n {\n  # about mtls\n  mtls strict\n  # closing\n}\n",
    ),
    "trailing-comments-two-spaces-after-code": (
        "namespace n {\n  mtls strict       # strict\n  mtls disable for a# bare\n}   # end of n\n",
        "namespace n {\n  mtls strict  # strict\n  mtls disable for a  # bare\n}  # end of n\n",
    ),
    "comment-after-opening-brace-stays-there": (
        _service("route r {   # first match wins\n  to v1\n}\n"),
        _service("route r {  # first match wins\n  to v1\n}\n"),
    ),
    "comment-in-a-canary-moves-before-it": (
        _service("""
            route r {
              canary v1 -> v2 steps 5% 50%  # slow start
                 pause 5m   # wait
                 analysis p99 <= 1s  # latency gate
              timeout 1s
            }
        """),
        _service("""
            route r {
              # slow start
              # wait
              canary v1 -> v2 steps 5% 50%
                pause 5m
                analysis p99 <= 1s  # latency gate
              timeout 1s
            }
        """),
    ),
    "comment-in-a-block-header-moves-before-it": (
        "namespace n {\n  service api  # the API\n  {\n    in a\n  }\n}\n",
        "namespace n {\n  # the API\n  service api { in a }\n}\n",
    ),
    "comment-between-lb-hash-and-its-key-moves-before-it": (
        _service("lb hash  # sticky\n  header x-user\n"),
        _service("# sticky\nlb hash header x-user\n"),
    ),
    "comments-at-the-end-of-a-block-stay-inside": (
        "namespace n {\n  mtls strict\n\n  # todo: allow rules\n    # second\n}\n",
        "namespace n {\n  mtls strict\n\n  # todo: allow rules\n  # second\n}\n",
    ),
    # A Port's span stops at its last policy statement, not at the `}`.
    "comment-at-the-end-of-a-port-policy": (
        _service("port 80 http {\n  lb random\n  # end of policy\n}\nport 81 http {\n  # empty\n}\n"),
        _service("port 80 http {\n  lb random\n  # end of policy\n}\nport 81 http {\n  # empty\n}\n"),
    ),
    "comment-in-an-empty-block": (
        "namespace n { service api {\n# nothing yet\n} }\n",
        "namespace n {\n  service api {\n    # nothing yet\n  }\n}\n",
    ),
    "comments-stop-a-block-collapsing": (
        _service("route a { timeout 1s }  # why\nroute b { timeout 1s  # why\n}\nroute c {\n  # why\n  timeout 1s\n}\n"),
        _service("""
            route a {
              timeout 1s
            }  # why
            route b {
              timeout 1s  # why
            }
            route c {
              # why
              timeout 1s
            }
        """),
    ),
    "comments-at-file-start-and-end": (
        "# header\n\n\n# licence\nnamespace n { mtls strict }\n# trailer\n\n\n# last",
        "# header\n\n# licence\nnamespace n { mtls strict }\n\n# trailer\n\n# last\n",
    ),
    "comment-only-file": ("\n\n# just a note   \n\n", "# just a note\n"),
    "trailing-whitespace-removed-from-comments": (
        "namespace n { # note \t\n  mtls strict #   \n}\n",
        "namespace n {  # note\n  mtls strict  #\n}\n",
    ),
    # Rule 8.
    "crlf-becomes-lf": (
        "namespace n {\r\n  mtls strict  # crlf\r\n\r\n\r\n  mtls disable for a\r\n}\r\n",
        "namespace n {\n  mtls strict  # crlf\n\n  mtls disable for a\n}\n",
    ),
    "one-final-newline": ("namespace n { mtls strict }\n\n\n\n", "namespace n { mtls strict }\n"),
    "empty-file": (" \n\n", ""),
}


@pytest.mark.parametrize("source, expected", CASES.values(), ids=CASES.keys())
def test_layout(source, expected):
    check_format(source, expected)


def _route_of_width(width: int) -> str:
    """A service whose one-route line, `    route r { rewrite path "..." }`, is `width` columns."""
    fixed = len('    route r { rewrite path "" }')
    return _service(f'route r {{ rewrite path "{"x" * (width - fixed)}" }}\n')


def test_a_block_collapses_up_to_100_columns():
    at_limit = _route_of_width(100)
    assert format_text(at_limit, "t.mesh") == at_limit
    over = format_text(_route_of_width(101), "t.mesh")
    assert '    route r {\n      rewrite path "' in over
    assert max(len(line) for line in over.splitlines()) < 101


def test_syntax_error_raises_format_error_with_diagnostics():
    with pytest.raises(FormatError) as raised:
        format_text("namespace n {\n  servic api {}\n}\n", "bad.mesh")
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.name == "syntax-error"
    assert (diagnostic.span.file, diagnostic.span.line, diagnostic.span.column) == ("bad.mesh", 2, 3)


# --------------------------------------------------------- safety net
SAMPLE = _service("route r {\n  timeout 5s  # why\n  canary a -> b steps 50%  # inside\n    pause 1m\n}\n")


def test_a_printer_that_changes_a_value_is_caught(monkeypatch):
    monkeypatch.setitem(fmt._LEAVES, s.Timeout, lambda n: "timeout 6s")
    with pytest.raises(InternalFormatError, match="syntax tree"):
        format_text(SAMPLE, "t.mesh")


def test_a_printer_that_drops_a_comment_is_caught(monkeypatch):
    monkeypatch.setattr(fmt._Layout, "_between", lambda self, lo, hi: [])
    with pytest.raises(InternalFormatError, match="comments"):
        format_text(SAMPLE, "t.mesh")


def test_a_layout_that_is_not_stable_is_caught(monkeypatch):
    original = fmt._format_tree
    calls = []

    def bouncing(tree, text):
        calls.append(text)
        out = original(tree, text)
        return out.replace("  timeout", "   timeout") if len(calls) == 1 else out

    monkeypatch.setattr(fmt, "_format_tree", bouncing)
    with pytest.raises(InternalFormatError, match="second time"):
        format_text(SAMPLE, "t.mesh")


def test_internal_errors_are_not_assertion_errors():
    assert not issubclass(InternalFormatError, AssertionError)


# ------------------------------------------------------------ command
def run(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, ["fmt", *args], input=stdin)


UGLY = "namespace n {\nmtls strict\n}\n"
PRETTY = "namespace n { mtls strict }\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A directory of .mesh files, as the working directory so that paths
    print relative to it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ugly.mesh").write_text(UGLY)
    (tmp_path / "pretty.mesh").write_text(PRETTY)
    return tmp_path


def test_rewrites_changed_files_in_place(project):
    pretty_inode = os.stat("pretty.mesh").st_ino
    result = run(".")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "reformatted ugly.mesh\n1 file reformatted, 1 file left unchanged.\n"
    assert (project / "ugly.mesh").read_text() == PRETTY
    assert os.stat("pretty.mesh").st_ino == pretty_inode  # untouched, not rewritten


def test_rewrite_keeps_the_file_mode(project):
    os.chmod("ugly.mesh", 0o640)
    assert run("ugly.mesh").exit_code == 0
    assert stat.S_IMODE(os.stat("ugly.mesh").st_mode) == 0o640
    assert not [p for p in os.listdir(".") if p.endswith(".tmp")]


def test_check_reports_and_writes_nothing(project):
    result = run("--check", ".")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "would reformat ugly.mesh\n1 file would be reformatted, 1 file would be left unchanged.\n"
    assert (project / "ugly.mesh").read_text() == UGLY


def test_check_passes_on_formatted_files(project):
    result = run("--check", "pretty.mesh")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "1 file would be left unchanged.\n")


def test_diff_prints_a_unified_diff_without_timestamps(project):
    result = run("--diff", ".")
    assert result.exit_code == 0
    assert result.stdout == dedent("""
        --- a/ugly.mesh
        +++ b/ugly.mesh
        @@ -1,3 +1 @@
        -namespace n {
        -mtls strict
        -}
        +namespace n { mtls strict }
    """)
    assert result.stderr == "would reformat ugly.mesh\n1 file would be reformatted, 1 file would be left unchanged.\n"
    assert (project / "ugly.mesh").read_text() == UGLY


def test_diff_marks_a_missing_final_newline(project):
    (project / "ugly.mesh").write_text("namespace n { mtls strict }")
    assert run("--diff", "ugly.mesh").stdout == dedent(r"""
        --- a/ugly.mesh
        +++ b/ugly.mesh
        @@ -1 +1 @@
        -namespace n { mtls strict }
        \ No newline at end of file
        +namespace n { mtls strict }
    """)


def test_check_with_diff_exits_1(project):
    result = run("--check", "--diff", "ugly.mesh")
    assert result.exit_code == 1
    assert result.stdout.startswith("--- a/ugly.mesh\n+++ b/ugly.mesh\n")


def test_stdin_to_stdout():
    result = run("-", stdin=UGLY.encode())
    assert (result.exit_code, result.stdout) == (0, PRETTY)
    assert result.stderr == "reformatted <stdin>\n1 file reformatted.\n"


def test_stdin_with_check_writes_nothing():
    result = run("--check", "-", stdin=UGLY.encode())
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "would reformat <stdin>\n1 file would be reformatted.\n"
    assert run("--check", "-", stdin=PRETTY.encode()).exit_code == 0


def test_stdin_with_diff():
    result = run("--diff", "-", stdin=UGLY.encode())
    assert result.exit_code == 0
    assert result.stdout.startswith("--- a/<stdin>\n+++ b/<stdin>\n@@ -1,3 +1 @@\n")


def test_stdin_that_does_not_parse_prints_nothing_to_stdout():
    result = run("-", stdin=b"namespace n {\n  servic api {}\n}\n")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("error[MESH001]: unexpected `servic` in `namespace n`\n --> <stdin>:2:3\n")


def test_unparsable_file_is_left_alone_and_others_are_formatted(project):
    (project / "bad.mesh").write_text("namespace n {\n  servic api {}\n}\n")
    result = run(".")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error[MESH001]: unexpected `servic` in `namespace n`\n --> bad.mesh:2:3\n")
    assert "  servic api {}\n" in result.stderr  # the full format quotes the line
    assert result.stderr.endswith(
        "reformatted ugly.mesh\n1 file reformatted, 1 file left unchanged, 1 file failed to reformat.\n")
    assert (project / "bad.mesh").read_text() == "namespace n {\n  servic api {}\n}\n"
    assert (project / "ugly.mesh").read_text() == PRETTY


def test_file_that_is_not_utf8_is_reported(project):
    (project / "latin1.mesh").write_bytes(b"namespace caf\xe9 {}\n")
    result = run("latin1.mesh")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("error[MESH004]: byte 0xe9 at offset 13 is not valid UTF-8\n --> latin1.mesh:1:14\n")
    assert (project / "latin1.mesh").read_bytes() == b"namespace caf\xe9 {}\n"


def test_missing_path_is_a_usage_error(project):
    result = run("ugly.mesh", "nowhere.mesh")
    assert result.exit_code == 2
    assert "nowhere.mesh: no such file or directory" in result.stderr
    assert (project / "ugly.mesh").read_text() == UGLY  # checked before anything is written


def test_stdin_must_be_the_only_path(project):
    assert run("-", "ugly.mesh").exit_code == 2


def test_directories_skip_hidden_and_vendored_ones(project):
    for directory in (".git", ".venv", "node_modules", "sub/deeper"):
        (project / directory).mkdir(parents=True)
        (project / directory / "x.mesh").write_text(UGLY)
    (project / "sub" / "notes.txt").write_text(UGLY)
    result = run("--check", ".")
    assert result.stderr == (
        "would reformat sub/deeper/x.mesh\nwould reformat ugly.mesh\n"
        "2 files would be reformatted, 1 file would be left unchanged.\n")


def test_directory_without_mesh_files_is_nothing_to_do(project):
    (project / "empty").mkdir()
    result = run("empty")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No .mesh files found; nothing to do.\n")


def test_internal_error_exits_2_and_leaves_the_file(project, monkeypatch):
    from meshc.commands import fmt as command

    def broken(text, path):
        raise InternalFormatError("formatting changed the syntax tree of ugly.mesh")

    monkeypatch.setattr(command, "format_text", broken)
    result = run(".")
    assert result.exit_code == 2
    assert "internal error: cannot format ugly.mesh: formatting changed the syntax tree of ugly.mesh; please report" \
        in result.stderr
    assert (project / "ugly.mesh").read_text() == UGLY


# --------------------------------------------------------- properties
PROPERTY = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(files)
def test_printed_tree_parses_back_to_it(tree):
    printed = print_tree(tree)
    parsed, diagnostics = parse(SourceFile(PATH, printed))
    assert diagnostics == []
    assert normalised(parsed) == normalised(tree)
    assert format_text(printed, PATH) == printed  # printing is already canonical


@PROPERTY
@given(sources())
def test_formatting_is_idempotent_and_keeps_comments(case):
    tree, text = case
    out = format_text(text, PATH)
    assert format_text(out, PATH) == out
    assert comment_texts(out) == Counter(c.rstrip() for c in comment_texts(text).elements())
    assert normalised(parse(SourceFile(PATH, out))[0]) == normalised(tree)
    assert out == "" or (out.endswith("\n") and not out.endswith("\n\n"))
    assert all(line == line.rstrip() for line in out.split("\n"))


@PROPERTY
@given(sources())
def test_formatting_keeps_the_ir(case):
    tree, text = case
    printed, _ = lower([parse(SourceFile(PATH, print_tree(tree)))[0]])
    if printed is None:
        return  # lowering rejects it (a repeated setting); nothing to compare
    formatted, diagnostics = lower([parse(SourceFile(PATH, format_text(text, PATH)))[0]])
    assert diagnostics == []
    assert without_spans(formatted.model_dump()) == without_spans(printed.model_dump())
