"""Reelscore's learning library: video sampling, the LRCN model, training and scoring.

Nothing in this package imports Django: it takes file paths, arrays and plain
config objects, and returns arrays, metrics and weight files.
"""
