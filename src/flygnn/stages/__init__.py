"""The pipeline stages, side by side, each with one entry function that both the ``flygnn``
command (which only parses arguments and prints) and the Snakefile's rules call:

    simulate   :func:`flygnn.stages.simulate.simulate_conditions`   datasets of the conditions
    train      :func:`flygnn.stages.train.train_condition`          a checkpoint bundle
    analyze    :func:`flygnn.stages.analyze.analyze_conditions`     results/<condition>/
    report     :func:`flygnn.stages.report.update_report`,           chapters/_generated/ and the book
               :func:`flygnn.stages.report.render_report`

``replicate`` trains a fixed recipe again (:func:`flygnn.stages.replicate.run_replicate`).
What is out of date is decided by content fingerprints only: docs/staleness.md.
"""
