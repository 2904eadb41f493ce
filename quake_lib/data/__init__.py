"""The data layer: CSV parsing (:mod:`.csv_parse`), opening and hashing a source file (:mod:`.source`),
the on-disk recording format (:mod:`.store`),
ingesting a Kaggle ``train.csv`` (:mod:`.ingest`), memory-mapped recordings and windows
(:mod:`.recording`), named datasets (:mod:`.datasets`), Kaggle file I/O (:mod:`.kaggle`) and the
synthetic generator with its calibration (:mod:`.synthetic`)."""
