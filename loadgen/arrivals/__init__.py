"""Pure arrival math, no clock and no asyncio: the schedule, its execution segments, the mix,
the plan."""
