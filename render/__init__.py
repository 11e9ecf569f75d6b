"""Text and Markdown rendering shared by the command line and Prefect artifacts."""
