"""`meshc diff`: what changes between two policies, in traffic terms.

    from meshc.semdiff import changes, changed_clusters
    changes(Readings(old_policy), Readings(new_policy))   # [Change(subject, what, clusters, kind, examples)]
    changed_clusters(old_policy, new_policy)              # the caller clusters whose traffic changes
"""

from meshc.semdiff.changes import Change, changed_clusters, changes

__all__ = ["Change", "changed_clusters", "changes"]
