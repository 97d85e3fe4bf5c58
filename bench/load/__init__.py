"""The load test, `python -m bench.load` (bench/load/__main__.py), and its parts: conversation
scripts, simulated customers, the store audit, the processes under test, and the figures."""
