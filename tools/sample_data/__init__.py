"""The generator of the sample data in data/ (train.csv, test.csv): standard library only, fixed seeds.

Run from the repository root with `python -m tools.sample_data` (see data/README.md).
"""
