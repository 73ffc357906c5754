"""`nasdsl trials`: many trainings from one table (genotypes x seeds x folds x settings).

table.py reads the TOML table into trials, work.py trains and evaluates one trial into its
own run directory (through `nasdsl train`/`eval`'s code), execute.py runs them in this
process or as Ray tasks, summary.py aggregates (mean, 95% CI, rank) and plots.
"""
