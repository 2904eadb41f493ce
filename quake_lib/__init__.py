"""quake_lib: the thin library behind the lab-earthquake notebooks (data, models, evaluation)."""
__version__ = "0.1.0"
