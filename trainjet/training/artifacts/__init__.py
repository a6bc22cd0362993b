"""What a training leaves behind: stored model versions, result summaries and analytics files."""
