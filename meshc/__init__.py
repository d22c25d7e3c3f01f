"""meshc: compile .mesh traffic policies to Istio manifests."""

__version__ = "0.1.0"
