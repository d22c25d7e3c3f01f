"""The canary lifecycle: moving steps in the source, Prometheus gates."""
