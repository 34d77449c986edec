"""The report: papermill runs of the analysis notebooks, the generated chapter parts
(σ-grids, summary tables, provenance), Quarto rendering and the Snakemake workflow
that decides what is out of date.

Flow of ``flygnn report``::

    snakemake (rules analyze → chapters)    one mechanism decides what changed
      └─ flygnn analyze --conditions C      runner: papermill per section, metrics.json, manifest.json
      └─ flygnn report --chapters-only      chapters: chapters/_generated/*.qmd from conditions + results
    quarto render (to a temporary folder)   quarto: verified, then swapped into _book/
"""
