"""Static analyses over the IR (resources, memory)."""
