"""What every service of the local AWS stands on: its configuration (config.py) and delays (delays.py), the world's
clock and moto's backends (world.py), who is calling (caller.py), fault injection (faults.py), and the one way to
change moto (patching.py). Imports no service package."""
