"""One module per model family; each registers its models with `zoobench.registry.register` on import.

Modules whose name starts with "_" hold shared pieces and register nothing.
"""
