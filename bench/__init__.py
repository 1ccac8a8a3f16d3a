"""``make bench``: the project's performance figures, each measured side by side
with its baseline in one run (see bench/run.py)."""
