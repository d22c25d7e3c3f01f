"""What a policy does to requests, computed two independent ways.

- `evaluate/`: Istio's routing over *rendered documents* (what the backend
  emitted for one cluster), written from Istio's own sources;
- `interpret/`: what the .mesh policy means according to docs/language.md,
  over the IR, without calling the backend.

Both answer a `Request` (request.py) with a `Decision` (decision.py);
differential tests demand that the two agree. Nothing in the compiler's
pipeline imports this package: it reads the IR and the documents, never the
other way round.
"""
