"""peerlab's local AWS: moto, extended to behave like AWS wherever the peering-lab workflow depends on it.

See infra/local/README.md for what is simulated and what is not.
"""
