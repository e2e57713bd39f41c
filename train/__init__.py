"""Dataset assembly, fit, evaluate, export, score, and the ``ctframe`` CLI."""
