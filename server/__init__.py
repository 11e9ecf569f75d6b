"""The local Prefect server and worker that ``perpflow serve`` / ``perpflow stop`` manage."""
