"""Loopback servers of the outside services the scheduled flows call (an LLM endpoint, sentiment sources)."""
