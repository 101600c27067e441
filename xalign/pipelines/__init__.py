"""Pipelines compose the stages (data → encoder → embeddings → metrics → results) from a validated
config and return result objects; they and the CLI are the only layers that touch the file system."""
