"""Figures: one module per chapter (``chNN_*``), the figures shared by the result chapters
(:mod:`.results`), the calibration figure, and one style module. A figure takes data and returns a
``matplotlib`` Figure; it computes nothing that a table of the report does not show."""
