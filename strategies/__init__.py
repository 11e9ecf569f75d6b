"""Strategies: trading logic as state machines (events in, intents out), and their runtime."""
