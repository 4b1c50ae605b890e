"""The run viewer: an evaluation's records as one self-contained HTML page or a Markdown digest."""
