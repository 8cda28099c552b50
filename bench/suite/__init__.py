"""The pytest plugin that times the suite, what it benchmarks, and how a run is started."""
