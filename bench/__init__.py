"""The export benchmark (bench/export.py) and the modules it runs in its child processes."""
