"""neurograph.sim: run compiled networks (reference executor, Lava), count events, report."""
