"""The parts of bench/load.py: conversation scripts, simulated customers, the store audit,
the processes under test, and the figures. bench/load.py is the command that ties them up."""
