"""Writing rendered files into an output directory (OUT), safely.

`meshc render -o OUT` produces `{relative_path: text}`. A file in OUT is
*meshc's* when its first line starts with `emit.MARKER` and it is either a
cluster's `CLUSTER/kustomization.yaml` (`kustomization.yaml` when OUT is one
cluster's directory) or listed in that (meshc's) kustomization's
`resources` or `configurations`: the kustomizations are the manifest of
what meshc wrote, so a user's file that merely quotes the header is not
taken for one.
Everything else in OUT (other files, unreadable files, symlinks, special
files) is *foreign* and is never modified or removed. Symlinks are never
followed.

`write_tree` builds the complete new OUT in a hidden staging directory next to
OUT (`.NAME.meshc-XXXX/new`, same filesystem): directories are re-created with
their modes, foreign entries are hard-linked in (a metadata-keeping copy, or a
re-created symlink, where a link is impossible), and meshc's files are
written. Only when all of that succeeded is the staging tree swapped in:

* On Linux the swap is one `renameat2(RENAME_EXCHANGE)`: OUT is always either
  the complete old tree or the complete new one, even if the process is
  killed. A kill can leave only the hidden `.NAME.meshc-XXXX` directory.
* Elsewhere (or where the filesystem refuses the exchange) OUT is renamed to
  `.NAME.meshc-XXXX/old`, then the staging tree to OUT; a failing second
  rename puts the old tree back. Killed between the two renames (a window of
  one system call), OUT is missing and its previous contents are in
  `.NAME.meshc-XXXX/old`; the next run notices and refuses, saying so.

The old tree is then deleted. On any error before the swap the old OUT is
untouched and the staging directory is removed.

Two renders into one OUT take turns: each holds an flock on `.NAME.meshc-lock`
next to OUT from reading OUT to removing its staging directory. Holding it,
a run removes the staging directories earlier runs left when they were
killed (keeping one whose `old` tree is all that is left of OUT), and warns
about any it cannot remove.

Known costs of replacing OUT as a whole: directories get new inodes (a shell
inside OUT must `cd` again), and keep their mode, owner and group but not
their times or extended attributes; a foreign file that cannot be linked is
copied with its owner and group. When meshc cannot give an entry its owner
back (it runs as another user and not as root), it refuses, changing
nothing. OUT must not be a symlink or a mount point and must not contain
mount points (the old tree is deleted recursively). Nothing but meshc may
change OUT while meshc writes it: an entry added after OUT was read would be
deleted with the old tree.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Optional

from ruamel.yaml import YAML

from meshc.files import LockError, diff_names, locked, unified_diff
from meshc.output.emit import KUSTOMIZATION, MARKER

_MARKER_BYTES = MARKER.encode()
_YAML = YAML(typ="safe", pure=True)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class OutputError(Exception):
    """OUT cannot be written as asked; nothing was changed (exit 2)."""


@dataclass(frozen=True)
class WriteReport:
    """What write_tree did, as paths relative to OUT, sorted."""

    written: tuple[str, ...]
    """New files and files whose content changed."""
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    """meshc's files from an earlier run that are no longer rendered."""
    warnings: tuple[str, ...] = ()
    """Staging directories of earlier or this run that could not be removed."""


@dataclass
class _Tree:
    """What OUT holds, found without following symlinks."""

    mode: Optional[int] = None
    """OUT's permission bits; None when OUT does not exist."""
    owner: tuple[int, int] = (-1, -1)
    """OUT's owner and group."""
    dirs: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Mode, owner and group of every directory."""
    empty_dirs: set[str] = field(default_factory=set)
    ours: dict[str, bytes] = field(default_factory=dict)
    foreign: list[str] = field(default_factory=list)
    """Everything but directories that meshc did not write."""


# ---------------------------------------------------------------- public API


def write_tree(out_dir: str, files: Mapping[str, str],
               owned: Optional[Callable[[Mapping[str, bytes]], set[str]]] = None) -> WriteReport:
    """Make meshc's files in `out_dir` exactly `files`, atomically, leaving
    foreign entries alone. Raises OutputError, having changed nothing, when a
    path is unsafe or a foreign entry is in the way. `owned` says which of
    the files carrying meshc's header are this command's (by default a
    render's: its kustomizations and what they list; `meshc import` owns
    the .mesh files it wrote)."""
    encoded = _encode(files)
    out = os.path.abspath(out_dir)
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create the directory of {out_dir}: {err.strerror}") from err
    with _locked(out):
        warnings = _remove_stale_staging(out)
        tree = _scan(out, out_dir, owned)
        _check_collisions(out_dir, tree, encoded)
        if tree.mode is None:
            _check_interrupted_swap(out, out_dir)
        try:
            holder = tempfile.mkdtemp(prefix=_holder_prefix(out), dir=os.path.dirname(out))
        except OSError as err:
            raise OutputError(f"cannot create a staging directory next to {out_dir}: {err.strerror}") from err
        try:
            staged = os.path.join(holder, "new")
            _stage(staged, out, out_dir, tree, encoded)
            _swap(out, staged, holder)
        except OSError as err:
            raise OutputError(_failure(out_dir, out, holder, err)) from err
        finally:
            if not _stranded(out, holder):
                _discard(holder)
        if os.path.lexists(holder) and not _stranded(out, holder):
            warnings.append(_left_behind(holder))
    return WriteReport(
        written=tuple(p for p in sorted(encoded) if tree.ours.get(p) != encoded[p]),
        unchanged=tuple(p for p in sorted(encoded) if tree.ours.get(p) == encoded[p]),
        removed=tuple(sorted(tree.ours.keys() - encoded.keys())),
        warnings=tuple(warnings),
    )


def diff_tree(out_dir: str, files: Mapping[str, str], prefix: str = "") -> str:
    """A unified diff from meshc's files in `out_dir` to `files` (headers
    `--- a/PREFIXPATH`, `+++ b/PREFIXPATH`, `/dev/null` for added or removed
    files, no timestamps); empty when they match. Foreign files are not
    compared."""
    tree, encoded, changed = _compare(out_dir, files)
    return "".join(_unified(prefix + p, tree.ours.get(p), encoded.get(p)) for p in changed)


def changed_paths(out_dir: str, files: Mapping[str, str]) -> list[str]:
    """The paths, relative to `out_dir`, where meshc's files there differ
    from `files` (changed, added or removed), sorted; `diff_tree`'s files."""
    return _compare(out_dir, files)[2]


def _compare(out_dir: str, files: Mapping[str, str]) -> tuple[_Tree, dict[str, bytes], list[str]]:
    encoded = _encode(files)
    out = os.path.abspath(out_dir)
    if os.path.isdir(os.path.dirname(out)):
        with _locked(out):  # not in the middle of another run's swap
            tree = _scan(out, out_dir)
    else:
        tree = _Tree()
    changed = [p for p in sorted(encoded.keys() | tree.ours.keys()) if tree.ours.get(p) != encoded.get(p)]
    return tree, encoded, changed


# ---------------------------------------------------------------- paths


def _encode(files: Mapping[str, str]) -> dict[str, bytes]:
    """Validate every path before anything is touched, and encode the texts."""
    encoded = {}
    for path, text in files.items():
        problem = _path_problem(path)
        if problem:
            raise OutputError(f"refusing to write {path!r}: {problem}")
        try:
            encoded[path] = text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise OutputError(f"refusing to write {path!r}: its text cannot be encoded as UTF-8 ({err.reason})") from err
    both = sorted(encoded.keys() & {a for p in encoded for a in _ancestors(p)})
    if both:
        raise OutputError(f"refusing to write {both[0]!r}: it would be both a file and a directory of other files")
    return encoded


def _path_problem(path: str) -> Optional[str]:
    """Why `path` could name something outside OUT, or something else than
    it seems; None for a clean relative path."""
    if not path:
        return "the path is empty"
    if "\\" in path:
        return "backslashes are not allowed (use `/`)"
    if "\0" in path:
        return "NUL characters are not allowed"
    if path.startswith("/"):
        return "absolute paths are not allowed"
    parts = path.split("/")
    if "" in parts:
        return "empty path components are not allowed"
    if ".." in parts:
        return "`..` would leave the output directory"
    if "." in parts or posixpath.normpath(path) != path:
        return "the path is not in normal form"
    return None


def _ancestors(path: str) -> list[str]:
    """`a/b/c` -> [`a`, `a/b`]."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _show(out_dir: str, rel: str) -> str:
    return os.path.join(out_dir, rel)


# ---------------------------------------------------------------- reading OUT


def _scan(out: str, out_dir: str, owned: Optional[Callable[[Mapping[str, bytes]], set[str]]] = None) -> _Tree:
    """Inventory OUT. Refuses a symlinked OUT (replacing it would replace
    the link) and mount points (the old tree is deleted recursively)."""
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return _Tree()
    except OSError as err:
        raise OutputError(f"cannot read {out_dir}: {err.strerror}") from err
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{out_dir} is a symbolic link; meshc replaces the output directory as a whole, so pass the directory it points to")
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{out_dir} exists and is not a directory")
    if os.path.ismount(out):
        raise OutputError(f"{out_dir} is a mount point; meshc replaces the output directory by renaming it, so choose a directory inside it")
    tree = _Tree(mode=stat.S_IMODE(st.st_mode), owner=(st.st_uid, st.st_gid))
    _scan_dir(out, out_dir, "", st.st_dev, tree)
    listed = (owned or _listed)(tree.ours)
    for rel in sorted(tree.ours.keys() - listed):
        del tree.ours[rel]
        tree.foreign.append(rel)
    tree.foreign.sort()
    return tree


def _listed(marked: Mapping[str, bytes]) -> set[str]:
    """Of the files carrying meshc's header, those meshc wrote: a cluster's
    kustomization (`CLUSTER/kustomization.yaml`, or `kustomization.yaml`
    when OUT is one cluster's directory) and the files it lists."""
    found = set()
    for rel, content in marked.items():
        directory, _, name = rel.rpartition("/")
        if name != KUSTOMIZATION or "/" in directory:
            continue
        found.add(rel)
        try:
            listing = _YAML.load(content.decode("utf-8"))
            listed = [r for key in _LISTS for r in listing.get(key) or ()]
        except Exception:  # noqa: BLE001 - not a kustomization meshc wrote: it lists nothing
            continue
        base = f"{directory}/" if directory else ""
        found.update(base + r for r in listed if isinstance(r, str) and not _path_problem(r))
    return found & marked.keys()


_LISTS = ("resources", "configurations")
"""The fields of meshc's kustomizations that name files it wrote."""


def _scan_dir(out: str, out_dir: str, rel: str, device: int, tree: _Tree) -> None:
    try:
        with os.scandir(os.path.join(out, rel)) as it:
            entries = sorted(it, key=lambda e: e.name)
        if rel and not entries:
            tree.empty_dirs.add(rel)
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if st.st_dev != device:
                    raise OutputError(f"{_show(out_dir, child)} is a mount point; meshc will not replace a tree that contains one")
                tree.dirs[child] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
                _scan_dir(out, out_dir, child, device, tree)
                continue
            content = _meshc_content(entry.path) if stat.S_ISREG(st.st_mode) else None
            if content is None:
                tree.foreign.append(child)
            else:
                tree.ours[child] = content
    except OSError as err:
        raise OutputError(f"cannot read {_show(out_dir, rel)}: {err.strerror}") from err


def _meshc_content(path: str) -> Optional[bytes]:
    """The content of a file meshc wrote, or None for anything else
    (including files that cannot be read, or stopped being regular files)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode) or f.read(len(_MARKER_BYTES)) != _MARKER_BYTES:
                return None
            return _MARKER_BYTES + f.read()
        except OSError:
            return None


# ---------------------------------------------------------------- checks


def _check_collisions(out_dir: str, tree: _Tree, files: Mapping[str, bytes]) -> None:
    """Refuse when a foreign entry sits where meshc would write a file, on
    the way to one (a file or symlink where a directory is needed), or
    inside a directory that would have to become a file."""
    foreign = set(tree.foreign)
    blockers = sorted(foreign | tree.empty_dirs)
    holding = {a for b in blockers for a in _ancestors(b)} | tree.empty_dirs
    for path in sorted(files):
        for p in (*_ancestors(path), path):
            if p in foreign:
                raise OutputError(
                    f"{_show(out_dir, p)} was not written by meshc (its first line does not start with "
                    f"`{MARKER}`) and is in the way of {path}; move it away or choose another output directory"
                )
        if path in holding:
            inside = next(b for b in blockers if b == path or b.startswith(path + "/"))
            raise OutputError(
                f"{_show(out_dir, path)} is a directory holding entries meshc did not write "
                f"({_show(out_dir, inside)}); move it away or choose another output directory"
            )


_STAGING = re.compile(r"[a-z0-9_]{8}")
"""What tempfile.mkdtemp puts after a staging directory's prefix."""


def _holder_prefix(out: str) -> str:
    """Name prefix of the hidden directory next to OUT used for the swap."""
    return f".{os.path.basename(out)[:100]}.meshc-"


def _check_interrupted_swap(out: str, out_dir: str) -> None:
    """A missing OUT next to `.NAME.meshc-XXXX/old` means a run was killed
    between the two renames of a swap: its old tree must not be forgotten."""
    parent, prefix = os.path.dirname(out), _holder_prefix(out)
    try:
        names = sorted(os.listdir(parent))
    except FileNotFoundError:
        return
    for name in names:
        old = os.path.join(parent, name, "old")
        if name.startswith(prefix) and os.path.isdir(old) and not os.path.islink(old):
            raise OutputError(
                f"{out_dir} is missing and {old} holds its previous contents from an interrupted meshc run; "
                f"move it back to {out_dir} (or delete it) and run again"
            )


@contextlib.contextmanager
def _locked(out: str) -> Iterator[None]:
    """OUT's lock (files.locked), its failure an OutputError."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(locked(out))
        except LockError as err:
            raise OutputError(str(err)) from None
        yield


def _remove_stale_staging(out: str) -> list[str]:
    """Remove the staging directories earlier runs left next to OUT (killed
    runs leave them; holding OUT's lock, no other run is using one), except
    one whose `old` tree is all that is left of a missing OUT. Warnings for
    those that cannot be removed."""
    parent, prefix = os.path.dirname(out), _holder_prefix(out)
    warnings = []
    for name in sorted(os.listdir(parent)):
        path = os.path.join(parent, name)
        if not _STAGING.fullmatch(name[len(prefix):]) or not name.startswith(prefix) or os.path.islink(path):
            continue
        if not os.path.isdir(path) or (not os.path.lexists(out) and os.path.isdir(os.path.join(path, "old"))):
            continue
        _discard(path)
        if os.path.lexists(path):
            warnings.append(_left_behind(path))
    return warnings


def _left_behind(holder: str) -> str:
    return f"could not remove the staging directory {holder}; remove it by hand"


# ---------------------------------------------------------------- staging and swap


def _stage(staged: str, out: str, out_dir: str, tree: _Tree, files: Mapping[str, bytes]) -> None:
    """Build the complete new OUT at `staged`."""
    kept = {a for p in (*files, *tree.foreign, *tree.empty_dirs) for a in _ancestors(p)} | tree.empty_dirs
    os.mkdir(staged, 0o755)
    _keep_owner(staged, *tree.owner, out_dir)
    for rel in sorted(kept):
        os.mkdir(os.path.join(staged, rel), 0o755)
        if rel in tree.dirs:
            _keep_owner(os.path.join(staged, rel), *tree.dirs[rel][1:], _show(out_dir, rel))
    for rel in tree.foreign:
        _carry(os.path.join(out, rel), os.path.join(staged, rel), _show(out_dir, rel))
    for rel, data in files.items():
        _write_file(os.path.join(staged, rel), data)
    # Old directories get their modes back last: one may not be writable.
    for rel in sorted(kept & tree.dirs.keys(), reverse=True):
        os.chmod(os.path.join(staged, rel), tree.dirs[rel][0])
    if tree.mode is not None:
        os.chmod(staged, tree.mode)


def _keep_owner(path: str, uid: int, gid: int, shown: str) -> None:
    """Give a re-created entry the owner and group of the one it stands for."""
    st = os.lstat(path)
    if (uid, gid) in ((-1, -1), (st.st_uid, st.st_gid)):
        return
    try:
        os.chown(path, uid, gid, follow_symlinks=False)
    except PermissionError:
        raise OutputError(
            f"{shown} belongs to {uid}:{gid}, which meshc (running as {os.getuid()}:{os.getgid()}) cannot give its "
            "copy in the new output directory; nothing was changed (move it out of the output directory, or "
            "render as its owner)") from None


def _carry(src: str, dst: str, shown: str) -> None:
    """Put a foreign entry into the staging tree unchanged: a hard link keeps
    content, mode, owner and inode; where linking fails (another filesystem,
    link limits, protected_hardlinks), a copy keeping mode, times, owner and
    group, or the same symlink again."""
    try:
        os.link(src, dst, follow_symlinks=False)
        return
    except OSError:
        st = os.lstat(src)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISREG(st.st_mode):
            shutil.copy2(src, dst)
        else:
            raise
        _keep_owner(dst, st.st_uid, st.st_gid, shown)


def _write_file(path: str, data: bytes) -> None:
    """A new file with mode 0644 (less the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _swap(out: str, staged: str, holder: str) -> None:
    """Put the staging tree in OUT's place; the old tree ends up in `holder`."""
    if not os.path.lexists(out):
        os.rename(staged, out)
        return
    if _exchange(staged, out):
        return
    aside = os.path.join(holder, "old")
    os.rename(out, aside)
    try:
        os.rename(staged, out)
    except OSError:
        os.rename(aside, out)
        raise


def _exchange(a: str, b: str) -> bool:
    """Swap two paths in one step (Linux renameat2 with RENAME_EXCHANGE).
    False when that is unavailable or fails for any reason: the two plain
    renames that follow then either work or report the real error."""
    try:
        import ctypes

        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (ImportError, OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _stranded(out: str, holder: str) -> bool:
    """Whether the old tree is in `holder` and OUT is missing: both renames
    of a fallback swap failed, and `holder` must not be deleted."""
    return not os.path.lexists(out) and os.path.lexists(os.path.join(holder, "old"))


def _failure(out_dir: str, out: str, holder: str, err: OSError) -> str:
    if _stranded(out, holder):
        return f"cannot write {out_dir} ({err}); it is missing, and its previous contents are in {os.path.join(holder, 'old')}"
    return f"cannot write {out_dir} ({err}); it was left as it was"


def _discard(holder: str) -> None:
    """Remove the staging directory and the old tree in it, best effort.
    Directories are made writable first (a foreign one may not be); files
    are never touched, as they are hard links shared with the new OUT."""
    def unlock(path: str) -> None:
        os.chmod(path, stat.S_IRWXU)
        with os.scandir(path) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    unlock(entry.path)

    try:
        unlock(holder)
    except OSError:
        pass
    shutil.rmtree(holder, ignore_errors=True)


# ---------------------------------------------------------------- diff


def _unified(path: str, old: Optional[bytes], new: Optional[bytes]) -> str:
    """One file's part of the diff, git style."""
    a, b = diff_names(path)
    before = "/dev/null" if old is None else a
    after = "/dev/null" if new is None else b
    diff = unified_diff(_text(old), _text(new), before, after)
    return diff or f"--- {before}\n+++ {after}\n"  # an empty file added or removed has no hunk


def _text(data: Optional[bytes]) -> str:
    return "" if data is None else data.decode("utf-8", errors="replace")
