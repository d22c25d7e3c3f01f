"""output.py: writing OUT atomically, never touching what meshc did not write."""

from __future__ import annotations

import os
import stat

import pytest

from meshc.output import writer as output
from meshc.output.emit import MARKER, header
from meshc.output.writer import OutputError, WriteReport, diff_tree, write_tree

HEAD = header(["p.mesh"], "0.1.0")


def meshc_file(body: str) -> str:
    return HEAD + body


def snapshot(root) -> dict:
    """Everything observable about a tree without following symlinks:
    type, mode, inode, mtime and content of every entry."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = f.read()
            else:
                content = None
            found[os.path.relpath(path, root)] = (st.st_mode, st.st_ino, st.st_mtime_ns, content)
    st = os.lstat(root)
    found["."] = (st.st_mode, st.st_ino)
    return found


def siblings(out) -> list[str]:
    """What sits next to OUT: a leftover staging directory would show here."""
    return sorted(os.listdir(os.path.dirname(out)))


@pytest.fixture(autouse=True)
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def out(tmp_path):
    return str(tmp_path / "deploy" / "out")


FILES = {
    "hangzhou/kustomization.yaml": meshc_file("resources:\n- production/vs.yaml\n"),
    "hangzhou/production/vs.yaml": meshc_file("kind: VirtualService\n"),
    "beijing/kustomization.yaml": meshc_file("resources: []\n"),
}


def cluster(name: str, files: dict[str, str]) -> dict[str, str]:
    """A cluster directory as meshc writes it: the files and a
    kustomization listing them (what tells meshc's files from others)."""
    listing = "".join(f"- {rel}\n" for rel in sorted(files))
    return {f"{name}/kustomization.yaml": meshc_file("resources:\n" + listing if listing else "resources: []\n"),
            **{f"{name}/{rel}": text for rel, text in files.items()}}


def read(out, rel) -> str:
    with open(os.path.join(out, rel), encoding="utf-8") as f:
        return f.read()


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ---------------------------------------------------------------- writing


def test_fresh_write_creates_out_and_parents(out):
    report = write_tree(out, FILES)
    assert report == WriteReport(written=tuple(sorted(FILES)), unchanged=(), removed=())
    for rel, text in FILES.items():
        assert read(out, rel) == text
        assert mode(os.path.join(out, rel)) == 0o644
    for rel in ("", "hangzhou", "hangzhou/production", "beijing"):
        assert mode(os.path.join(out, rel)) == 0o755
    assert siblings(out) == ["out"]


def test_rewrite_removes_stale_files_and_their_empty_directories(out):
    write_tree(out, FILES)
    new = {
        "hangzhou/kustomization.yaml": meshc_file("resources: []\n"),
        "shanghai/kustomization.yaml": meshc_file("resources: []\n"),
    }
    report = write_tree(out, new)
    assert report == WriteReport(
        written=("hangzhou/kustomization.yaml", "shanghai/kustomization.yaml"),
        unchanged=(),
        removed=("beijing/kustomization.yaml", "hangzhou/production/vs.yaml"),
    )
    assert sorted(os.listdir(out)) == ["hangzhou", "shanghai"]
    assert os.listdir(os.path.join(out, "hangzhou")) == ["kustomization.yaml"]
    assert read(out, "hangzhou/kustomization.yaml") == new["hangzhou/kustomization.yaml"]
    assert siblings(out) == ["out"]


def test_unchanged_files_are_reported_as_unchanged(out):
    write_tree(out, FILES)
    report = write_tree(out, FILES)
    assert report == WriteReport(written=(), unchanged=tuple(sorted(FILES)), removed=())
    for rel, text in FILES.items():
        assert read(out, rel) == text


def test_writing_nothing_empties_out_of_meshc_files(out):
    write_tree(out, FILES)
    assert write_tree(out, {}).removed == tuple(sorted(FILES))
    assert os.listdir(out) == []


def test_a_file_replaces_a_directory_of_stale_meshc_files(out):
    write_tree(out, cluster("c", {"a/b.yaml": meshc_file("x: 1\n")}))
    report = write_tree(out, cluster("c", {"a": meshc_file("x: 2\n")}))
    assert report.removed == ("c/a/b.yaml",) and read(out, "c/a") == meshc_file("x: 2\n")


def test_out_keeps_its_own_mode(out):
    os.makedirs(out, mode=0o750)
    os.chmod(out, 0o750)
    write_tree(out, FILES)
    assert mode(out) == 0o750


# ---------------------------------------------------------------- foreign entries


def make_foreign(out) -> None:
    """A README, a sub-tree of notes, an unmarked file inside a cluster
    directory, a read-only directory, an empty directory and a binary file."""
    os.makedirs(os.path.join(out, "notes", "deep"))
    os.makedirs(os.path.join(out, "hangzhou"), exist_ok=True)
    os.makedirs(os.path.join(out, "empty"))
    for rel, data in {
        "README.md": b"hand written\n",
        "notes/deep/n.txt": b"note\n",
        "hangzhou/patch.yaml": b"# my patch\nkind: x\n",
        "blob.bin": bytes(range(256)),
        "locked/file": b"locked\n",
    }.items():
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        with open(os.path.join(out, rel), "wb") as f:
            f.write(data)
    os.chmod(os.path.join(out, "README.md"), 0o600)
    os.chmod(os.path.join(out, "hangzhou/patch.yaml"), 0o755)
    os.chmod(os.path.join(out, "locked"), 0o555)


FOREIGN = ["README.md", "notes/deep/n.txt", "hangzhou/patch.yaml", "blob.bin", "locked/file"]


def test_foreign_entries_survive_unchanged_as_the_same_inodes(out):
    make_foreign(out)
    before = snapshot(out)
    write_tree(out, FILES)
    after = snapshot(out)
    for rel in FOREIGN:
        assert after[rel] == before[rel], rel  # content, mode, inode, mtime
    for rel in ("notes", "notes/deep", "hangzhou", "empty", "locked"):
        assert stat.S_IMODE(after[rel][0]) == stat.S_IMODE(before[rel][0]), rel
    write_tree(out, {})
    assert {rel: snapshot(out)[rel] for rel in FOREIGN} == {rel: before[rel] for rel in FOREIGN}
    assert os.listdir(os.path.join(out, "hangzhou")) == ["patch.yaml"]
    assert siblings(out) == ["out"]


def test_foreign_entries_are_copied_when_they_cannot_be_linked(out, monkeypatch):
    make_foreign(out)
    os.symlink("README.md", os.path.join(out, "link"))
    before = snapshot(out)

    def no_links(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(output.os, "link", no_links)
    write_tree(out, FILES)
    after = snapshot(out)
    for rel in FOREIGN:
        mode_, inode, mtime, content = after[rel]
        assert (mode_, mtime, content) == (before[rel][0], before[rel][2], before[rel][3]), rel
        assert inode != before[rel][1]
    assert os.readlink(os.path.join(out, "link")) == "README.md"
    assert siblings(out) == ["out"]


def test_meshcs_files_are_those_its_kustomizations_list(out):
    """A cluster's kustomization and the files it lists are meshc's (from
    any version: the header's version does not matter), and are removed
    when no longer rendered."""
    os.makedirs(os.path.join(out, "x", "y"))
    with open(os.path.join(out, "x", "y", "old.yaml"), "w") as f:
        f.write(f"{MARKER} 0.0.1 from old.mesh; do not edit.\nkind: old\n")
    with open(os.path.join(out, "x", "kustomization.yaml"), "w") as f:
        f.write(f"{MARKER} 0.0.1 from old.mesh; do not edit.\nresources:\n- y/old.yaml\n")
    assert write_tree(out, {}).removed == ("x/kustomization.yaml", "x/y/old.yaml")
    assert os.listdir(out) == []


@pytest.mark.parametrize("rel", ["README.md", "hangzhou/extra.yaml", "hangzhou/production/copy.yaml", "notes/kustomization.yaml/x"])
def test_a_user_file_quoting_the_header_is_not_taken_for_meshcs(out, rel):
    """The first line alone does not make a file meshc's: one that quotes
    the header (a note, a copy of a generated file) but is not listed by
    meshc's kustomization is left alone, and refused where it is in the way."""
    write_tree(out, FILES)
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"{MARKER}: see the policy repository.\nkind: mine\n")
    before = snapshot(out)[rel]
    assert write_tree(out, {}).removed == tuple(sorted(FILES))
    assert snapshot(out)[rel] == before
    with pytest.raises(OutputError, match="was not written by meshc"):
        write_tree(out, {rel: meshc_file("kind: ours\n")})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_files_are_foreign(out):
    os.makedirs(out)
    path = os.path.join(out, "secret.yaml")
    with open(path, "w") as f:
        f.write(meshc_file("kind: x\n"))
    os.chmod(path, 0)
    write_tree(out, {})
    assert os.path.exists(path)


# ---------------------------------------------------------------- collisions


@pytest.mark.parametrize(
    ("setup", "target", "named"),
    [
        ("file", "hangzhou/kustomization.yaml", "hangzhou/kustomization.yaml"),
        ("file", "hangzhou/kustomization.yaml/deeper.yaml", "hangzhou/kustomization.yaml"),
        ("dir", "hangzhou", "hangzhou/kustomization.yaml"),
        ("empty-dir", "hangzhou/kustomization.yaml", "hangzhou/kustomization.yaml"),
    ],
)
def test_a_foreign_entry_in_the_way_is_refused_with_out_untouched(out, setup, target, named):
    os.makedirs(os.path.join(out, "hangzhou"))
    if setup == "empty-dir":
        os.makedirs(os.path.join(out, named))
    else:
        with open(os.path.join(out, named), "w") as f:
            f.write("apiVersion: v1  # mine\n")
    write_tree(out, cluster("beijing", {"k.yaml": meshc_file("a: 1\n")}))
    before, around = snapshot(out), siblings(out)
    with pytest.raises(OutputError) as err:
        write_tree(out, {target: meshc_file("b: 2\n"), **cluster("beijing", {"k.yaml": meshc_file("a: 2\n")})})
    assert os.path.join(out, named) in str(err.value)
    assert "move it away or choose another output directory" in str(err.value)
    assert snapshot(out) == before and siblings(out) == around


@pytest.mark.parametrize("path", ["../x", "/etc/x", "a//b", "a/./b", "a\\b", "", ".", "a/", "a/../b", "x/..", "a\0b"])
def test_path_escapes_are_rejected_before_anything_is_touched(out, path):
    with pytest.raises(OutputError) as err:
        write_tree(out, {"fine.yaml": meshc_file(""), path: meshc_file("")})
    assert repr(path) in str(err.value)
    assert not os.path.exists(os.path.dirname(out))
    with pytest.raises(OutputError):
        diff_tree(out, {path: meshc_file("")})


def test_a_path_cannot_be_both_a_file_and_a_directory(out):
    with pytest.raises(OutputError, match="both a file and a directory"):
        write_tree(out, {"a": meshc_file(""), "a/b": meshc_file("")})


# ---------------------------------------------------------------- symlinks


def test_symlink_inside_out_is_neither_followed_nor_removed(tmp_path, out):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "looks-like-meshc.yaml").write_text(meshc_file("kind: theirs\n"))
    os.makedirs(out)
    os.symlink(outside, os.path.join(out, "cluster"))
    os.symlink(outside / "looks-like-meshc.yaml", os.path.join(out, "stale.yaml"))
    outside_before = snapshot(outside)

    assert write_tree(out, {"ok.yaml": meshc_file("")}).removed == ()
    assert os.readlink(os.path.join(out, "cluster")) == str(outside)
    assert os.readlink(os.path.join(out, "stale.yaml")) == str(outside / "looks-like-meshc.yaml")

    with pytest.raises(OutputError, match="cluster"):
        write_tree(out, {"cluster/vs.yaml": meshc_file("")})
    with pytest.raises(OutputError, match="stale.yaml"):
        write_tree(out, {"stale.yaml": meshc_file("")})
    assert snapshot(outside) == outside_before


def test_a_symlinked_out_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "out")
    with pytest.raises(OutputError, match="symbolic link"):
        write_tree(str(tmp_path / "out"), FILES)
    assert os.listdir(real) == []


# ---------------------------------------------------------------- failures and the swap


def failing_after(calls: int, real):
    """`real`, raising from its `calls`-th call on."""
    count = 0

    def fail(*args, **kwargs):
        nonlocal count
        count += 1
        if count >= calls:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    return fail


@pytest.mark.parametrize("name", ["_write_file", "_carry", "_swap"])
def test_a_failure_before_the_swap_leaves_out_untouched_and_no_temp_dirs(out, monkeypatch, name):
    write_tree(out, FILES)
    make_foreign(out)
    before, around = snapshot(out), siblings(out)
    monkeypatch.setattr(output, name, failing_after(2 if name != "_swap" else 1, getattr(output, name)))
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_tree(out, {**FILES, "hangzhou/kustomization.yaml": meshc_file("changed: true\n"), "new.yaml": meshc_file("")})
    assert snapshot(out) == before
    assert siblings(out) == around


def test_an_os_error_becomes_an_output_error(out, monkeypatch):
    write_tree(out, FILES)
    before = snapshot(out)

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "_write_file", full)
    with pytest.raises(OutputError, match="No space left on device.*left as it was"):
        write_tree(out, FILES)
    assert snapshot(out) == before and siblings(out) == ["out"]


def test_the_two_rename_swap_works_where_exchange_is_unavailable(out, monkeypatch):
    monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    make_foreign(out)
    write_tree(out, FILES)
    write_tree(out, {"only.yaml": meshc_file("")})
    assert sorted(os.listdir(out)) == sorted(["README.md", "notes", "hangzhou", "blob.bin", "locked", "empty", "only.yaml"])
    assert siblings(out) == ["out"]


def test_a_failing_second_rename_puts_the_old_tree_back(out, monkeypatch):
    write_tree(out, FILES)
    before = snapshot(out)
    monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    real_rename = os.rename

    def rename(src, dst):
        if src.endswith(os.sep + "new"):
            raise OSError(5, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(output.os, "rename", rename)
    with pytest.raises(OutputError, match="left as it was"):
        write_tree(out, {"x.yaml": meshc_file("")})
    assert snapshot(out) == before and siblings(out) == ["out"]


def test_if_the_old_tree_cannot_be_put_back_it_is_kept_and_named(out, monkeypatch):
    write_tree(out, FILES)
    before = snapshot(out)
    monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    real_rename = os.rename

    def rename(src, dst):
        if src.endswith((os.sep + "new", os.sep + "old")):
            raise OSError(5, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(output.os, "rename", rename)
    with pytest.raises(OutputError, match="it is missing, and its previous contents are in .*old") as err:
        write_tree(out, {"x.yaml": meshc_file("")})
    kept = str(err.value).rsplit(" ", 1)[-1]
    assert not os.path.exists(out) and snapshot(kept) == before
    monkeypatch.undo()
    with pytest.raises(OutputError, match="interrupted meshc run"):
        write_tree(out, FILES)


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="renameat2 is Linux only")
def test_on_linux_out_is_exchanged_in_one_step_and_never_missing(out, monkeypatch):
    write_tree(out, FILES)
    real_rename = os.rename

    def rename(src, dst):
        assert src != out, "OUT was renamed aside"
        real_rename(src, dst)

    monkeypatch.setattr(output.os, "rename", rename)
    write_tree(out, {"x.yaml": meshc_file("")})
    assert os.listdir(out) == ["x.yaml"] and siblings(out) == ["out"]


def test_an_interrupted_swap_is_noticed_and_not_forgotten(out):
    """A kill between the two renames leaves OUT missing and its old tree
    in the hidden staging directory; the next run must not bury it."""
    old = os.path.join(os.path.dirname(out), ".out.meshc-abc123", "old")
    os.makedirs(old)
    with open(os.path.join(old, "README.md"), "w") as f:
        f.write("precious\n")
    with pytest.raises(OutputError, match=r"out is missing and .*\.out\.meshc-abc123/old holds its previous contents"):
        write_tree(out, FILES)
    assert not os.path.exists(out)


def test_a_killed_runs_staging_directories_are_removed_by_the_next(out):
    """A kill leaves `.out.meshc-XXXXXXXX` next to OUT (up to a whole tree
    each, read-only directories included); the next run removes them, but
    keeps other hidden entries and one holding a missing OUT's old tree."""
    write_tree(out, FILES)
    parent = os.path.dirname(out)
    for name in (".out.meshc-k1ll3d_1", ".out.meshc-k1ll3d_2"):
        os.makedirs(os.path.join(parent, name, "new", "hangzhou"))
        os.chmod(os.path.join(parent, name, "new"), 0o500)
    os.makedirs(os.path.join(parent, ".out.meshc-notes"))  # not a staging name
    report = write_tree(out, FILES)
    assert siblings(out) == [".out.meshc-notes", "out"] and report.warnings == ()


def test_a_staging_directory_that_cannot_be_removed_is_warned_about(out, monkeypatch):
    os.makedirs(os.path.join(os.path.dirname(out), ".out.meshc-abcdefgh", "new"))
    monkeypatch.setattr(output, "_discard", lambda holder: None)
    report = write_tree(out, FILES)
    assert len(report.warnings) == 2  # the earlier run's and this run's
    assert all("could not remove the staging directory" in w for w in report.warnings)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another owner needs root")
def test_foreign_directories_keep_their_owner_group_and_mode(out, monkeypatch):
    """A foreign 0700 directory used to become the renderer's; so did a
    foreign file copied where it could not be linked."""
    write_tree(out, FILES)
    secret = os.path.join(out, "hangzhou", "secret")
    os.mkdir(secret, 0o700)
    with open(os.path.join(secret, "key"), "w") as f:
        f.write("k\n")
    for path in (secret, os.path.join(secret, "key"), out):
        os.chown(path, 1234, 2345)
    monkeypatch.setattr(output.os, "link", lambda *a, **k: (_ for _ in ()).throw(OSError(18, "cross-device")))
    write_tree(out, FILES)
    for path, mode_ in ((secret, 0o700), (os.path.join(secret, "key"), 0o644), (out, 0o755)):
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 2345, mode_), path


def test_an_owner_that_cannot_be_kept_is_refused_with_out_untouched(out, monkeypatch):
    write_tree(out, FILES)
    os.mkdir(os.path.join(out, "hangzhou", "theirs"))
    before, around = snapshot(out), siblings(out)
    real_lstat = os.lstat

    def lstat(path, **kwargs):  # the staged copy of `theirs` seems to belong to someone else
        st = real_lstat(path, **kwargs)
        if not str(path).endswith("/theirs"):
            return st
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid + 1, *st[5:]))

    def chown(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(output.os, "lstat", lstat)
    monkeypatch.setattr(output.os, "chown", chown)
    with pytest.raises(OutputError, match=r"theirs belongs to \d+:\d+, which meshc .* cannot give"):
        write_tree(out, {})
    monkeypatch.undo()
    assert snapshot(out) == before and siblings(out) == around


def test_a_render_waits_for_another_holding_out(out, tmp_path):
    """Two renders into one OUT used to both swap, the last one winning;
    now the second waits for the first (here: the test holds the lock)."""
    import fcntl
    import subprocess
    import sys

    os.makedirs(os.path.dirname(out))
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "a.mesh").write_text("namespace a {\n  service b {\n    port 80 http\n    timeout 5s\n  }\n}\n")
    fd = os.open(os.path.join(os.path.dirname(out), ".out.meshc-lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    render = subprocess.Popen([sys.executable, "-m", "meshc", "render", str(policy), "-o", out],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            render.wait(timeout=3)
        assert not os.path.exists(out)
    finally:
        os.close(fd)  # releases the lock
    _, err = render.communicate(timeout=60)
    assert render.returncode == 0, err.decode()
    assert "waiting for another meshc that is writing" in err.decode()
    assert os.path.isfile(os.path.join(out, "default", "kustomization.yaml"))
    assert siblings(out) == ["out"]


# ---------------------------------------------------------------- diff


def test_diff_tree_shows_added_changed_and_removed_files(out):
    write_tree(out, {"c/a.yaml": meshc_file("x: 1\ny: 2\n"), "c/gone.yaml": meshc_file("z: 3\n"),
                     "c/kustomization.yaml": meshc_file("resources:\n- a.yaml\n- gone.yaml\n")})
    os.makedirs(os.path.join(out, "mine"))
    with open(os.path.join(out, "mine", "notes.txt"), "w") as f:
        f.write("foreign, ignored\n")
    diff = diff_tree(out, {"c/a.yaml": meshc_file("x: 1\ny: 20\n"), "c/new/b.yaml": meshc_file("w: 4\n"),
                           "c/kustomization.yaml": meshc_file("resources:\n- a.yaml\n- gone.yaml\n")})
    assert diff == (
        "--- a/c/a.yaml\n"
        "+++ b/c/a.yaml\n"
        "@@ -1,3 +1,3 @@\n"
        f" {HEAD}"
        " x: 1\n"
        "-y: 2\n"
        "+y: 20\n"
        "--- a/c/gone.yaml\n"
        "+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n"
        f"-{HEAD}"
        "-z: 3\n"
        "--- /dev/null\n"
        "+++ b/c/new/b.yaml\n"
        "@@ -0,0 +1,2 @@\n"
        f"+{HEAD}"
        "+w: 4\n"
    )


def test_diff_tree_is_empty_when_out_matches(out):
    write_tree(out, FILES)
    assert diff_tree(out, FILES) == ""


def test_diff_tree_of_a_missing_out_adds_everything(out):
    diff = diff_tree(out, {"a.yaml": meshc_file("x: 1\n")})
    assert diff.startswith("--- /dev/null\n+++ b/a.yaml\n@@ -0,0 +1,2 @@\n")
    assert not os.path.exists(out)


def test_diff_tree_marks_a_missing_final_newline(out):
    write_tree(out, cluster("c", {"a.yaml": meshc_file("x: 1")}))
    assert diff_tree(out, cluster("c", {"a.yaml": meshc_file("x: 1\n")})).endswith(
        "-x: 1\n\\ No newline at end of file\n+x: 1\n"
    )


@pytest.mark.parametrize("cluster", [None, "hangzhou"])
def test_a_second_render_recognises_every_file_of_the_first(tmp_path, cluster):
    """What render wrote (the resources, the kustomization and the
    kustomizeconfig it lists; into OUT, or into OUT/CLUSTER with --cluster)
    is meshc's the next time: unchanged, nothing refused."""
    from click.testing import CliRunner

    from meshc.cli import cli

    examples = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
    args = ["render", examples, "-o", str(tmp_path / "out")] + (["--cluster", cluster] if cluster else [])
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "written" not in second.stderr and "unchanged" in second.stderr, second.stderr
