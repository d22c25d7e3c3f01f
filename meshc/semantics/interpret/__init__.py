"""A reference interpreter of the .mesh semantics: what docs/language.md
says a policy does to a request, computed over the IR without the backend.

`Interpreter(policy, cluster).evaluate(request)` answers a `Decision` for a
caller in `cluster` (a remote's callers follow their primary's
configuration); `.explain(request)` adds the entries tried before, the
condition each failed at, and where every option and destination-policy
setting in force came from; `.serving(request, down)` says which clusters'
pods take each destination, some clusters' pods being down.
"""

from meshc.semantics.interpret.interpreter import Explanation, Interpreter, Miss

__all__ = ["Explanation", "Interpreter", "Miss"]
