"""The delta-neutral hedge bot: primary maker orders, every fill hedged on the other venue."""
