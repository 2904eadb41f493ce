"""quake_lib: the thin library behind the lab-earthquake notebooks (data, models, evaluation)."""
__version__ = "0.1.0"

from . import threads

# before any module of the library imports torch: OpenMP reads its wait policy once, at start (threads.py)
threads.apply()
