"""An evaluator of Istio's HTTP routing over rendered documents.

Written from Istio's sources (istio/istio pilot, istio/api proto comments),
not from meshc's backend, so that it is a second, independent reading of
what the emitted YAML does. docs/semantics.md says what it models and what
it does not; each module names the pilot code it follows:

- documents.py: loading, kinds, short names, gateway names, pilot's order;
- matchers.py: Envoy's string, header, query and path matchers;
- routes.py: an `http` list as the routes pilot builds for one proxy;
- actions.py: what the taken entry does (destinations, retries, ...);
- policy.py: DestinationRule lookup and the subset / port-level merge;
- hosts.py, gateway.py, evaluator.py: virtual hosts at sidecars and gateways;
- dead.py: `http` entries no request can reach.

    evaluator = Evaluator.from_directory("out/hangzhou", registry)
    evaluator.evaluate(Request.make("reviews.bookinfo.svc.cluster.local", 9080))
"""

import importlib

# Where each name lives. Imported on first use, so that `check` and `render`,
# which run the dead-entry analysis on what they emit, load dead.py and what
# it needs, not the whole evaluator.
_HOME = {
    "ISTIO_DEFAULT_RETRIES": "actions",
    "Cover": "dead", "DeadEntry": "dead", "dead_entries": "dead",
    "DocumentError": "documents", "load_directory": "documents", "load_yaml": "documents",
    "Evaluator": "evaluator", "Explanation": "evaluator",
    "Miss": "routes",
}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
