"""`python -m tools.sample_data [--out DIR] [--seed N]`: write train.csv and test.csv."""

from tools.sample_data.generate import main

main()
