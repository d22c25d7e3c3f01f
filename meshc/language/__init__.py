"""The .mesh language: source text, parser, syntax tree, typed IR, formatter."""
