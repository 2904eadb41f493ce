"""Facts of the acquisition and of the competition, in one place (every other module imports them)."""

SAMPLE_RATE_HZ = 4_000_000  # samples per second of the acoustic channel (the real acquisition rate)
SEGMENT_LENGTH = 150_000    # samples per Kaggle test segment: the competition's unit of prediction
TARGET_MAX_S = 16.11        # the longest real cycle lasts 16.107 s: the top edge of target bins
