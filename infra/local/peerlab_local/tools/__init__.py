"""Clients of a running local AWS, apart from the server: deploy a stack (stack.py), start and stop a local AWS
(launch.py), replay IAM evaluations per statement (iam_replay.py). The server never imports these."""
