"""Prefect flows (the entrypoints ``prefect.yaml`` deploys).

Importing any flow installs ``tasks.expected_end``: in a worker's subprocess, a run that ends as
planned (a refusal, a cancel) is not logged by Prefect's engine as a crash with a traceback.
"""

from tasks.expected_end import install

install()
