"""The pure domain and the event store. Nothing here imports FastAPI, Typer or torch."""
