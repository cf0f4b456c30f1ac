"""Speed and memory figures, printed beside a baseline measured in the same run.

Run from the repository root: C{python -m benchmarks.clock}, C{python -m benchmarks.han},
C{python -m benchmarks.gbcs}.  Benchmarks assert nothing; tests never time anything.
"""
