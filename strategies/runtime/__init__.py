"""Async runtime that executes strategy intents against venues and records what happened."""
