"""`nasdsl run`: search -> derive -> check -> compile -> train -> export -> infer ->
evaluate, in one run directory whose stages are recorded and reused."""
