"""Data utilities: instruction templates, built-in tasks, preprocessors."""
