"""The network, its training loop and inference, devices and seeding (torch lives here)."""
