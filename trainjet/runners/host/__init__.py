"""The host pool: training on a GPU machine (CUDA, then Apple MPS, then CPU) with the same
runner protocol as the local pool, plus a session id per attempt, GPU figures in the progress
context, the heartbeat and the result, and the trained model published for the API."""
