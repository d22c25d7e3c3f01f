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

from meshc.semantics.evaluate.actions import ISTIO_DEFAULT_RETRIES
from meshc.semantics.evaluate.dead import Cover, DeadEntry, dead_entries
from meshc.semantics.evaluate.documents import DocumentError, load_directory, load_yaml
from meshc.semantics.evaluate.evaluator import Evaluator, Explanation
from meshc.semantics.evaluate.routes import Miss

__all__ = ["ISTIO_DEFAULT_RETRIES", "Cover", "DeadEntry", "DocumentError", "Evaluator", "Explanation", "Miss",
           "dead_entries", "load_directory", "load_yaml"]
