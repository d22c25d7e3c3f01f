"""`meshc lsp`: the language server, on pygls (the optional `lsp` extra).

Only `server.py` and the feature modules import pygls and lsprotocol; the
analysis they share (`workspace.py`, `symbols.py`, `vocabulary.py`) does not,
so the rest of meshc never pays for them.
"""
