"""The section notebooks' side of the package: their parameters, context, cache and sources.

- :mod:`~flygnn.notebook.parameters`: the papermill parameters (one definition for the
  notebooks, the runner and :func:`~flygnn.notebook.context.load_context`);
- :mod:`~flygnn.notebook.context`: one condition's inputs, checked against each other,
  the shared derived quantities, saving figures and metrics;
- :mod:`~flygnn.notebook.cache`: the per-condition on-disk cache.
- :mod:`~flygnn.notebook.sync`: the notebooks ``analysis/<section>.ipynb`` generated from their
  sources, the jupytext percent scripts ``analysis/<section>.py`` (``python -m flygnn.notebook.sync``).

This façade does the I/O (locks, caches, bundle loading, display, saving) over the
pure analysis (:mod:`flygnn.analysis`) and the drawing (:mod:`flygnn.figures`), so it
sits above both. Nothing is imported here, so reading the parameters stays cheap.
"""
