"""The LLM agent bot: the LLM proposes, rules decide.

Everything here is pure (no I/O): which actions are allowed (computed in code before any LLM
call), the decision schema and its validation against those actions, confidence calibration,
exit rules, the profit/volume modes and the cost of each round trip. The adviser task asks the
LLM; its validated decision reaches the strategy as a signal.
"""
