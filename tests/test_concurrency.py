"""Commands that rewrite a policy file (promote, rollback, fmt) against
other processes: each other, an editor, and the file's owner and links.
Real processes, started together, since the question is what happens
between them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = " ".join(f"{n}%" for n in range(10, 101, 10))
POLICY = ("namespace shop {\n  service cart {\n    port 80 http\n    subsets by version v1 v2\n"
          f"    route r {{ canary v1 -> v2 steps {STEPS} at 0 }}\n  }}\n}}\n")


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "meshc", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def step(path: Path) -> int:
    return int(re.search(r" at (\d+) }", path.read_text()).group(1))


@pytest.fixture
def shop(tmp_path) -> Path:
    path = tmp_path / "shop.mesh"
    path.write_text(POLICY)
    return path


def test_concurrent_promotions_take_turns(shop):
    """Six promotions started together: each that says "promoted" moved the
    canary one step further (before the lock, all six read step 0, all said
    "promoted 0 → 1", and the canary moved once)."""
    runs = [start("promote", str(shop), "shop/cart") for _ in range(6)]
    said = []
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()
        said += re.findall(r"promoted cart/r: step (\d+) → (\d+)", err.decode())
    assert sorted(said, key=lambda s: int(s[0])) == [(str(n), str(n + 1)) for n in range(6)]
    assert step(shop) == 6
    assert sorted(os.listdir(shop.parent)) == ["shop.mesh"]  # no lock or temp file left


def test_an_edit_made_while_promoting_is_never_lost(shop):
    """An editor appends a line every few milliseconds while promotions
    run: a promotion that would overwrite an append refuses instead (exit
    2, saying so), and every appended line is in the file at the end."""
    editor = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "for i in range(150):\n"
        "    with open(sys.argv[1], 'a') as f:\n"
        "        f.write(f'# edit {i}\\n')\n"
        "    time.sleep(0.004)\n"), str(shop)])
    outcomes = []
    while editor.poll() is None:
        run = start("promote", str(shop), "shop/cart")
        _, err = run.communicate(timeout=120)
        outcomes.append((run.returncode, err.decode()))
    assert editor.wait() == 0
    for code, err in outcomes:
        assert code == 0 or (code == 2 and "changed while meshc was working on it" in err), (code, err)
    text = shop.read_text()
    assert all(f"# edit {i}\n" in text for i in range(150)), "an edit was lost"
    assert step(shop) == sum(code == 0 for code, _ in outcomes)


def test_a_change_between_reading_and_writing_is_refused(shop, monkeypatch, capsys):
    """The same, made deterministic in one process: the file changes while
    promote works on it; promote refuses and the change stays."""
    from meshc.canary import steps
    from meshc.cli import main

    moved = steps.moved

    def edit_meanwhile(*args):
        text = moved(*args)
        with open(shop, "a") as f:
            f.write("# added by an editor\n")
        return text

    monkeypatch.setattr(steps, "moved", edit_meanwhile)
    with pytest.raises(SystemExit) as exit_info:
        main(["promote", str(shop), "shop/cart"])
    assert exit_info.value.code == 2
    assert "shop.mesh changed while meshc was working on it" in capsys.readouterr().err
    assert shop.read_text() == POLICY + "# added by an editor\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another owner needs root")
@pytest.mark.parametrize("command", [["promote", "{file}", "shop/cart"], ["rollback", "{file}", "shop/cart"],
                                     ["fmt", "{file}"]])
def test_owner_group_and_mode_are_kept(shop, command):
    """A root promote used to give a 1234:2345 file to root."""
    shop.write_text(POLICY.replace("at 0", "at 1").replace("route r {", "route  r {"))
    os.chown(shop, 1234, 2345)
    shop.chmod(0o640)
    done = subprocess.run([sys.executable, "-m", "meshc", *[a.format(file=shop) for a in command]],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    st = shop.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 2345, 0o640)
    assert shop.read_text() != POLICY.replace("at 0", "at 1").replace("route r {", "route  r {")


@pytest.mark.parametrize("command", [["promote", "{file}", "shop/cart"], ["fmt", "{file}"]])
def test_a_hard_linked_file_is_refused_not_split(shop, command):
    """Replacing the file would leave its other links with the old text
    (the canary half moved): refuse, saying why, with both unchanged."""
    shop.write_text(POLICY.replace("route r {", "route  r {"))
    other = shop.parent / "elsewhere.txt"
    os.link(shop, other)
    before = shop.read_text()
    done = subprocess.run([sys.executable, "-m", "meshc", *[a.format(file=shop) for a in command]],
                          capture_output=True, timeout=60)
    assert done.returncode == 2 and "hard links" in done.stderr.decode(), done.stderr.decode()
    assert shop.read_text() == other.read_text() == before
    assert os.stat(shop).st_ino == os.stat(other).st_ino


def test_fmt_and_promote_on_one_file_take_turns(shop):
    """fmt and promote started together both finish their work on the file."""
    unformatted = POLICY.replace("route r {", "route  r {")
    for _ in range(3):
        shop.write_text(unformatted)
        runs = [start("fmt", str(shop)), start("promote", str(shop), "shop/cart")]
        for run in runs:
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err.decode()
        assert shop.read_text() == POLICY.replace("at 0", "at 1")
