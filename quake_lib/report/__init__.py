"""The report machinery: the notebook session (:mod:`.session`) and batch execution with papermill,
HTML pages included (:mod:`.execute`)."""
