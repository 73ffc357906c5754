"""Search engines: strategies over the decision table and the supernet (see registry)."""
