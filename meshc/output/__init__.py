"""From documents to files: YAML emission, manifests, the output directory."""
