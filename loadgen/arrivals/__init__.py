"""Pure arrival math, no clock and no asyncio: the schedule, its segments, the mix, the plan."""
