"""Running recipes: planning (plan.py), stages, the per-unit worker and the executors.

`corpuskit.engine.run.run_recipe` is the entry point.
"""
