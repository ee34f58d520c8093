"""Running recipes: the plan, the stages, the runner, the work on a worker, the backends.

`corpuskit.engine.run.run_recipe` is the entry point; docs/architecture.md the map.
"""
