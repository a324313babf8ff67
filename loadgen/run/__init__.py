"""One run end to end: the runner, the engine, its clock, the rate cap and the CPU watch."""
