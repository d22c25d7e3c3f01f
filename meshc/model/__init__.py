"""The resolved policy: defaults, overrides and inheritance applied once."""
