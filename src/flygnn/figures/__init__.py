"""Figures: one module per figure family, sharing :mod:`flygnn.figures.style`."""
