"""Hyperparameter sweeps on Optuna: the sweep file (config.py) and the study's workers and records (study.py).

Nothing here imports Optuna when it loads: only a sweep that runs (or a status that reads one) does.
"""
