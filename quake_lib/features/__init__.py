"""Features of windows: plain statistics (:mod:`.window_stats`), the Kaggle competition's feature
groups (:mod:`.competition`), spectral measures (:mod:`.spectral`) and the exploratory tables
(:mod:`.eda`)."""
