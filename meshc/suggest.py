""""did you mean" for a name that is not one of the known ones: shared by
the checks (subsets, services, gateways, clusters) and the command line
(subcommands, `--cluster`, `explain`, configuration keys)."""

from __future__ import annotations

from typing import Iterable, Optional


def did_you_mean(name: str, known: Iterable[str]) -> Optional[str]:
    import difflib  # only when a name is wrong: not part of every `check`

    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
