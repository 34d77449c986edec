"""The book: the generated chapter parts (σ-grids, summary tables, provenance) written from
the analyses' results, and the Quarto render that is checked before it replaces ``_book/``.

Flow of ``flygnn report`` (:mod:`flygnn.stages.report`)::

    stages.analyze      papermill per section, metrics.json, manifest.json (what changed only)
    report.chapters     chapters/_generated/*.qmd from the conditions and the results
    report.book_check   the book's structure (ids, cross-references, images) before Quarto
    report.quarto       quarto render into a staging folder: verified, then swapped into _book/
"""
