"""The simulated shop's own side: its operational store and its HTTP API."""
